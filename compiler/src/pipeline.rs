//! All compiler stages in order: parse -> bind -> plan -> lower -> emit, behind one compiler
//! session (`Compiler`). Guarantees: either a complete program with its row layout (one per
//! source of a join), or one coded diagnostic; never a panic; no stage after `plan` changes it.

use crate::bind::{bind, BindEnv, Params, TypedQuery};
use crate::bpf::asm::Program;
use crate::codegen::{generate, CodegenError};
use crate::codes;
use crate::diagnostic::{Diagnostic, FileId, Sources, Span};
use crate::ir::Function;
use crate::join::{plan_join, JoinPlan};
use crate::map_walk::RowsFrom;
use crate::maps::MapLookup;
use crate::plan::{plan, plan_join_side, Output, Plan, PlanEnv, PlanOptions};
use crate::stdlib::Stdlib;
use crate::syntax::ast;
use crate::syntax::parse_query;
use bpfq_kernel::{Btf, KernelFeatures};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Everything `bpfq explain` shows and the loader needs.
#[derive(Debug)]
pub struct Compiled {
    pub plan: Plan,
    pub ir: Function,
    pub program: Program,
    /// The kernel program name (at most 15 bytes).
    pub prog_name: String,
    /// With `RowsFrom::SocketIterators`, one program per socket iterator of the plan, in the
    /// same order (`ir` and `program` are then empty); else empty.
    pub socket_programs: Vec<SocketProgram>,
}

/// The program of one socket iterator of a `RowsFrom::SocketIterators` plan: it writes rows in
/// the plan's `layout`.
#[derive(Debug)]
pub struct SocketProgram {
    /// The socket iterator target it attaches to (`attach_func`).
    pub target: crate::bind::BoundTarget,
    pub ir: Function,
    pub program: Program,
    pub prog_name: String,
}

/// A join: one program per source, run one after the other, and the user-space join.
#[derive(Debug)]
pub struct CompiledJoin {
    pub sides: Vec<Compiled>,
    pub join: JoinPlan,
}

/// A query of one source, or a join.
#[derive(Debug)]
pub enum CompiledQuery {
    Single(Box<Compiled>),
    Join(CompiledJoin),
}

/// How long each stage took (`bpfq --timings`; a join's sides and a session's compiles add up).
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub parse: Duration,
    pub bind: Duration,
    pub plan: Duration,
    pub lower: Duration,
    pub emit: Duration,
}

/// A compiler session: the kernel (BTF and features), the stdlib, the source files, the
/// parameters and the maps every query of the session is compiled against. Stage times add up
/// over the session's compiles (`times`).
pub struct Compiler<'a> {
    env: BindEnv<'a>,
    times: Cell<StageTimes>,
}

/// What to compile: a source file of the session, or a query already parsed (one query of a
/// query file).
#[derive(Clone, Copy)]
pub enum Input<'q> {
    File(FileId),
    Parsed(&'q ast::Query),
}

/// How to compile: what the program writes and where a grouping may run.
pub type Options = PlanOptions;

impl<'a> Compiler<'a> {
    /// A session over `btf` with `features`, `stdlib` and the files of `sources`, without
    /// parameters and without maps to look up.
    pub fn new(
        btf: &'a Btf,
        features: &'a KernelFeatures,
        stdlib: &'a Stdlib,
        sources: &'a Sources,
    ) -> Compiler<'a> {
        static NO_PARAMS: std::sync::OnceLock<Params> = std::sync::OnceLock::new();
        Compiler {
            env: BindEnv {
                btf,
                stdlib,
                sources,
                params: NO_PARAMS.get_or_init(Params::new),
                maps: None,
                features,
            },
            times: Cell::new(StageTimes::default()),
        }
    }

    /// The session, with `--param name=value` pairs, typed when a query uses `$name`.
    pub fn with_params(mut self, params: &'a Params) -> Compiler<'a> {
        self.env.params = params;
        self
    }

    /// The session, looking up the maps of map-element queries with `maps`.
    pub fn with_maps(mut self, maps: &'a dyn MapLookup) -> Compiler<'a> {
        self.env.maps = Some(maps);
        self
    }

    /// The same session compiling for a kernel with `features` instead.
    pub fn with_features<'b>(&self, features: &'b KernelFeatures) -> Compiler<'b>
    where
        'a: 'b,
    {
        Compiler {
            env: BindEnv {
                features,
                ..self.env
            },
            times: Cell::new(StageTimes::default()),
        }
    }

    /// The session's source files.
    pub fn sources(&self) -> &'a Sources {
        self.env.sources
    }

    /// The kernel features the session compiles for.
    pub fn features(&self) -> &'a KernelFeatures {
        self.env.features
    }

    /// The session's stdlib.
    pub fn stdlib(&self) -> &'a Stdlib {
        self.env.stdlib
    }

    /// Stage `bind` alone: `query` typed against the session (what a query can see, without
    /// planning or code).
    pub fn bind(&self, query: &ast::Query) -> Result<TypedQuery, Diagnostic> {
        bind(query, &self.env)
    }

    /// The text of `bpfq describe SPEC`, SPEC being the whole text of source file `spec_file`
    /// (`describe.rs`).
    pub fn describe(&self, spec_file: FileId) -> Result<String, Diagnostic> {
        crate::describe::describe(&self.env, spec_file)
    }

    /// `target`'s stdlib columns as this kernel sees them (`describe.rs`).
    pub fn columns(&self, target: &str) -> Vec<crate::describe::ColumnInfo> {
        crate::describe::columns(&self.env, target)
    }

    /// Completion candidates for the unfinished query `text` (`complete.rs`).
    pub fn complete(&self, text: &str) -> Vec<String> {
        crate::complete::complete(&self.env, text)
    }

    /// How long each stage took, added up over this session's compiles.
    pub fn times(&self) -> StageTimes {
        self.times.get()
    }

    /// Compiles `input`: a single source or a join (a join only with `Output::Rows`).
    pub fn compile(&self, input: Input, options: Options) -> Result<CompiledQuery, Diagnostic> {
        self.compile_timed(input, options, false)
    }

    /// Compiles a single-source `input` (a join is an error).
    pub fn compile_single(&self, input: Input, options: Options) -> Result<Compiled, Diagnostic> {
        match self.compile_timed(input, options, true)? {
            CompiledQuery::Single(single) => Ok(*single),
            CompiledQuery::Join(_) => Err(Diagnostic::error(
                codes::INTERNAL,
                "internal error (this is a bug in bpfq): a join passed the single-source check",
            )),
        }
    }

    fn compile_timed(
        &self,
        input: Input,
        options: Options,
        single: bool,
    ) -> Result<CompiledQuery, Diagnostic> {
        let mut times = self.times.get();
        let result = self.compile_stages(input, options, single, &mut times);
        self.times.set(times);
        result
    }

    fn compile_stages(
        &self,
        input: Input,
        options: Options,
        single: bool,
        times: &mut StageTimes,
    ) -> Result<CompiledQuery, Diagnostic> {
        let parsed;
        let ast = match input {
            Input::Parsed(ast) => ast,
            Input::File(file) => {
                let clock = Instant::now();
                parsed = parse_query(self.env.sources.text(file), file)?;
                times.parse += clock.elapsed();
                &parsed
            }
        };
        let env = &self.env;
        if let Some(join) = ast.joins.first() {
            if options.output == Output::Text {
                return Err(Diagnostic::error(
                    codes::TEXT_OUTPUT_UNSUPPORTED,
                    "this query cannot print its rows in the kernel: a join runs in user space",
                )
                .with_primary(join.span, "this join"));
            }
            if single {
                return Err(Diagnostic::error(
                    codes::UNSUPPORTED,
                    "a join compiles to several programs",
                )
                .with_primary(join.span, "here")
                .with_note("this caller takes single-source queries only"));
            }
            let clock = Instant::now();
            let (typed, join) = plan_join(ast, env)?;
            times.bind += clock.elapsed();
            let mut sides = Vec::new();
            for side in typed {
                let clock = Instant::now();
                let plan =
                    plan_join_side(side.query, side.filter_text, &self.plan_env(ast, options))?;
                times.plan += clock.elapsed();
                sides.push(finish(plan, env, ast.span, times)?);
            }
            return Ok(CompiledQuery::Join(CompiledJoin { sides, join }));
        }
        let clock = Instant::now();
        let typed = bind(ast, env)?;
        times.bind += clock.elapsed();
        let clock = Instant::now();
        let plan = plan(typed, &self.plan_env(ast, options))?;
        times.plan += clock.elapsed();
        finish(plan, env, ast.span, times).map(|c| CompiledQuery::Single(Box::new(c)))
    }

    fn plan_env(&self, ast: &ast::Query, options: Options) -> PlanEnv<'_> {
        PlanEnv {
            sources: self.env.sources,
            btf: self.env.btf,
            features: self.env.features,
            options,
            span: ast.span,
        }
    }
}

/// lower + emit of one source's plan: its program, or with `RowsFrom::SocketIterators` one per
/// socket iterator, or with `RowsFrom::MapWalk` none.
fn finish(
    plan: Plan,
    env: &BindEnv,
    span: Span,
    times: &mut StageTimes,
) -> Result<Compiled, Diagnostic> {
    let prog_name = crate::bind::program_name(&plan.target.name);
    let mut compiled = Compiled {
        ir: Function::empty(),
        program: Program::default(),
        prog_name,
        socket_programs: Vec::new(),
        plan,
    };
    match &compiled.plan.rows_from {
        RowsFrom::MapWalk(_) => {}
        RowsFrom::SocketIterators(sockets) => {
            for iterator in &sockets.iterators {
                let clock = Instant::now();
                let ir = crate::lower::lower_sockets(
                    &compiled.plan,
                    sockets,
                    iterator,
                    env.btf,
                    env.features,
                )?;
                times.lower += clock.elapsed();
                let clock = Instant::now();
                let program =
                    generate(&ir, env.features).map_err(|err| codegen_diagnostic(err, span))?;
                times.emit += clock.elapsed();
                let mut prog_name = format!(
                    "{}sks_{}",
                    crate::bind::PROGRAM_PREFIX,
                    iterator.target.name
                );
                prog_name.truncate(15);
                compiled.socket_programs.push(SocketProgram {
                    target: iterator.target.clone(),
                    ir,
                    program,
                    prog_name,
                });
            }
        }
        RowsFrom::Program => {
            let clock = Instant::now();
            compiled.ir = crate::lower::lower(&compiled.plan, env.btf, env.features)?;
            times.lower += clock.elapsed();
            let clock = Instant::now();
            compiled.program = generate(&compiled.ir, env.features)
                .map_err(|err| codegen_diagnostic(err, span))?;
            times.emit += clock.elapsed();
        }
    }
    Ok(compiled)
}

fn codegen_diagnostic(err: CodegenError, span: Span) -> Diagnostic {
    match err {
        CodegenError::StackTooLarge { .. } => {
            Diagnostic::error(codes::STACK_TOO_LARGE, err.to_string())
                .with_primary(span, "this query's row is too wide")
                .with_note("select fewer or narrower columns")
        }
        CodegenError::Internal(_) => Diagnostic::error(codes::INTERNAL, err.to_string())
            .with_primary(span, "while compiling this"),
    }
}
