//! All compiler stages in order: parse -> bind -> plan -> lower -> emit. Guarantees: either a
//! complete program with its row layout, or one coded diagnostic; never a panic.

use crate::bind::{bind, BindEnv};
use crate::bpf::asm::Program;
use crate::codegen::{generate, CodegenError};
use crate::codes;
use crate::diagnostic::{Diagnostic, FileId, Span};
use crate::ir::Function;
use crate::layout::RowLayout;
use crate::plan::{plan, Plan};
use crate::syntax::ast::Query;
use crate::syntax::parse_query;
use std::time::{Duration, Instant};

/// Everything `bpfq explain` shows and the loader needs.
#[derive(Debug)]
pub struct Compiled {
    pub plan: Plan,
    pub ir: Function,
    pub program: Program,
    pub layout: RowLayout,
    /// The kernel program name (at most 15 bytes).
    pub prog_name: String,
}

/// How long each stage of one compile took (`bpfq --timings`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub parse: Duration,
    pub bind: Duration,
    pub plan: Duration,
    pub lower: Duration,
    pub emit: Duration,
}

/// Compiles the query in source file `file` of `env.sources`.
pub fn compile(file: FileId, env: &BindEnv) -> Result<Compiled, Diagnostic> {
    compile_timed(file, env, &mut StageTimes::default())
}

/// `compile`, recording in `times` how long each stage took (stages that did not run stay 0).
pub fn compile_timed(
    file: FileId,
    env: &BindEnv,
    times: &mut StageTimes,
) -> Result<Compiled, Diagnostic> {
    let text = env.sources.text(file);
    let clock = Instant::now();
    let ast = parse_query(text, file)?;
    times.parse = clock.elapsed();
    compile_parsed(&ast, env, times)
}

/// Stages bind -> emit of a query already parsed (one query of a query file), recording their
/// durations in `times`.
pub fn compile_parsed(
    ast: &Query,
    env: &BindEnv,
    times: &mut StageTimes,
) -> Result<Compiled, Diagnostic> {
    let mut clock = Instant::now();
    let mut lap = |slot: &mut Duration| {
        let now = Instant::now();
        *slot = now - clock;
        clock = now;
    };
    let typed = bind(ast, env)?;
    lap(&mut times.bind);
    let plan = plan(typed, env.sources);
    lap(&mut times.plan);
    let (ir, layout) = crate::lower::lower(&plan, env.btf)?;
    lap(&mut times.lower);
    let program = generate(&ir).map_err(|err| codegen_diagnostic(err, ast.span))?;
    lap(&mut times.emit);
    let prog_name = crate::bind::program_name(&plan.target.name);
    Ok(Compiled {
        plan,
        ir,
        program,
        layout,
        prog_name,
    })
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
