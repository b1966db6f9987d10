//! All compiler stages in order: parse -> bind -> plan -> lower -> emit. Guarantees: either a
//! complete program with its row layout (one per source of a join), or one coded diagnostic;
//! never a panic.

use crate::bind::{bind, BindEnv};
use crate::bpf::asm::Program;
use crate::codegen::{generate, CodegenError};
use crate::codes;
use crate::diagnostic::{Diagnostic, FileId, Span};
use crate::group_place::{place, GroupPlace};
use crate::ir::Function;
use crate::join::{plan_join, JoinPlan};
use crate::layout::RowLayout;
use crate::lower::RowOutput;
use crate::map_walk::RowsFrom;
use crate::plan::{plan, Plan};
use crate::syntax::ast;
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
    /// With `RowsFrom::SocketIterators`, one program per socket iterator of the plan, in the
    /// same order (`ir` and `program` are then empty); else empty.
    pub socket_programs: Vec<SocketProgram>,
}

/// The program of one socket iterator of a `RowsFrom::SocketIterators` plan: it writes rows in
/// the plan's `Compiled::layout`.
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

/// How long each stage of one compile took (`bpfq --timings`; a join's sides add up).
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub parse: Duration,
    pub bind: Duration,
    pub plan: Duration,
    pub lower: Duration,
    pub emit: Duration,
}

/// Compiles the query in source file `file` of `env.sources`: a single source or a join.
pub fn compile_query(file: FileId, env: &BindEnv) -> Result<CompiledQuery, Diagnostic> {
    compile_query_timed(file, env, &mut StageTimes::default())
}

/// `compile_query`, recording in `times` how long each stage took.
pub fn compile_query_timed(
    file: FileId,
    env: &BindEnv,
    times: &mut StageTimes,
) -> Result<CompiledQuery, Diagnostic> {
    let ast = parse_timed(file, env, times)?;
    compile_query_parsed(&ast, env, times)
}

/// Stages bind -> emit of a query already parsed (one query of a query file): a single source
/// or a join.
pub fn compile_query_parsed(
    ast: &ast::Query,
    env: &BindEnv,
    times: &mut StageTimes,
) -> Result<CompiledQuery, Diagnostic> {
    if ast.joins.is_empty() {
        return compile_parsed(ast, env, times).map(|c| CompiledQuery::Single(Box::new(c)));
    }
    let clock = Instant::now();
    let (typed, join) = plan_join(ast, env)?;
    times.bind += clock.elapsed();
    let mut sides = Vec::new();
    for side in typed {
        let clock = Instant::now();
        let mut plan = plan(side.query, env.sources);
        if !plan.target.facts().lists_own_program {
            plan.kernel.filter_text = side.filter_text;
        }
        times.plan += clock.elapsed();
        sides.push(finish(plan, env, ast.span, times)?);
    }
    Ok(CompiledQuery::Join(CompiledJoin { sides, join }))
}

/// Compiles the single-source query in source file `file` of `env.sources` (a join is an error:
/// use `compile_query`).
pub fn compile(file: FileId, env: &BindEnv) -> Result<Compiled, Diagnostic> {
    compile_timed(file, env, &mut StageTimes::default())
}

/// `compile`, recording in `times` how long each stage took (stages that did not run stay 0).
pub fn compile_timed(
    file: FileId,
    env: &BindEnv,
    times: &mut StageTimes,
) -> Result<Compiled, Diagnostic> {
    let ast = parse_timed(file, env, times)?;
    compile_parsed(&ast, env, times)
}

/// Stages bind -> emit of a single-source query already parsed, recording their durations in
/// `times`.
pub fn compile_parsed(
    ast: &ast::Query,
    env: &BindEnv,
    times: &mut StageTimes,
) -> Result<Compiled, Diagnostic> {
    if let Some(join) = ast.joins.first() {
        return Err(
            Diagnostic::error(codes::UNSUPPORTED, "a join compiles to several programs")
                .with_primary(join.span, "here")
                .with_note("this caller takes single-source queries only"),
        );
    }
    let clock = Instant::now();
    let typed = bind(ast, env)?;
    times.bind = clock.elapsed();
    let clock = Instant::now();
    let plan = plan(typed, env.sources);
    times.plan = clock.elapsed();
    finish(plan, env, ast.span, times)
}

/// Compiles the single-source query in source file `file` to a program that prints its rows
/// as text in the kernel (`bpfq pin`, `bpfq compile`): header line, tab-separated values.
pub fn compile_text(
    file: FileId,
    env: &BindEnv,
    times: &mut StageTimes,
) -> Result<Compiled, Diagnostic> {
    let ast = parse_timed(file, env, times)?;
    if let Some(join) = ast.joins.first() {
        return Err(Diagnostic::error(
            codes::TEXT_OUTPUT_UNSUPPORTED,
            "this query cannot print its rows in the kernel: a join runs in user space",
        )
        .with_primary(join.span, "this join"));
    }
    let typed = bind(&ast, env)?;
    let plan = plan(typed, env.sources);
    finish_as(plan, env, ast.span, times, RowOutput::Text)
}

fn parse_timed(
    file: FileId,
    env: &BindEnv,
    times: &mut StageTimes,
) -> Result<ast::Query, Diagnostic> {
    let clock = Instant::now();
    let ast = parse_query(env.sources.text(file), file)?;
    times.parse = clock.elapsed();
    Ok(ast)
}

/// lower + emit of one source's plan.
fn finish(
    plan: Plan,
    env: &BindEnv,
    span: Span,
    times: &mut StageTimes,
) -> Result<Compiled, Diagnostic> {
    finish_as(plan, env, span, times, RowOutput::Binary)
}

fn finish_as(
    plan: Plan,
    env: &BindEnv,
    span: Span,
    times: &mut StageTimes,
    output: RowOutput,
) -> Result<Compiled, Diagnostic> {
    let clock = Instant::now();
    let mut plan = plan;
    let walk = crate::map_walk::choose(
        &plan.target.name,
        plan.iter_params.as_ref(),
        plan.kernel.columns.iter().map(|column| &column.expr),
        plan.kernel.filter.as_ref(),
        env.btf,
        env.features,
    )?;
    if let Some(walk) = walk {
        if output == RowOutput::Text {
            return Err(crate::map_walk::nothing_to_pin(env.features, span));
        }
        return map_walk_compiled(plan, walk, env, times, clock);
    }
    if let Some(sockets) = crate::socket_storage::choose(&plan, span, env.btf, env.features)? {
        if output == RowOutput::Text {
            return Err(crate::socket_storage::nothing_to_pin(
                &plan.target.name,
                env.features,
                span,
            ));
        }
        return socket_compiled(plan, sockets, env, span, times, clock);
    }
    if let (Some(grouping), None) = (&plan.user.grouping, &plan.group_place) {
        let layout = crate::lower::row_layout(&plan, env.btf)?;
        plan.group_place = Some(place(grouping, &layout, &plan.target.name));
    }
    let (ir, layout) = crate::lower::lower_as(&plan, env.btf, env.features, output)?;
    times.lower += clock.elapsed();
    let clock = Instant::now();
    let program = generate(&ir, env.features).map_err(|err| codegen_diagnostic(err, span))?;
    times.emit += clock.elapsed();
    let prog_name = crate::bind::program_name(&plan.target.name);
    Ok(Compiled {
        plan,
        ir,
        program,
        layout,
        prog_name,
        socket_programs: Vec::new(),
    })
}

/// A plan whose rows come from a user-space map walk: its row layout, no IR and no program.
fn map_walk_compiled(
    plan: Plan,
    walk: crate::map_walk::MapWalk,
    env: &BindEnv,
    times: &mut StageTimes,
    clock: Instant,
) -> Result<Compiled, Diagnostic> {
    let (plan, layout) =
        without_own_program(plan, env, "the rows come from a user-space map walk")?;
    times.lower += clock.elapsed();
    Ok(rows_elsewhere(
        plan,
        layout,
        RowsFrom::MapWalk(walk),
        Vec::new(),
    ))
}

/// The row layout of `plan`, whose rows come from elsewhere than a program of its own target,
/// with any grouping placed in user space for `reason`.
fn without_own_program(
    mut plan: Plan,
    env: &BindEnv,
    reason: &str,
) -> Result<(Plan, RowLayout), Diagnostic> {
    let layout = crate::lower::row_layout(&plan, env.btf)?;
    if plan.user.grouping.is_some() {
        plan.group_place = Some(GroupPlace::User {
            reason: reason.into(),
        });
    }
    Ok((plan, layout))
}

/// A compiled query without a program of its target: no IR, an empty program.
fn rows_elsewhere(
    mut plan: Plan,
    layout: RowLayout,
    rows_from: RowsFrom,
    socket_programs: Vec<SocketProgram>,
) -> Compiled {
    plan.rows_from = rows_from;
    let prog_name = crate::bind::program_name(&plan.target.name);
    Compiled {
        plan,
        ir: Function::empty(),
        program: Program::default(),
        layout,
        prog_name,
        socket_programs,
    }
}

/// A plan whose rows come from socket iterators: one program per iterator, the row layout of
/// the map-element program, no program of the plan's own target.
fn socket_compiled(
    plan: Plan,
    sockets: crate::socket_storage::SocketIterators,
    env: &BindEnv,
    span: Span,
    times: &mut StageTimes,
    clock: Instant,
) -> Result<Compiled, Diagnostic> {
    let (plan, layout) = without_own_program(
        plan,
        env,
        "the rows come from several socket iterator programs",
    )?;
    times.lower += clock.elapsed();
    let mut socket_programs = Vec::new();
    for iterator in &sockets.iterators {
        let clock = Instant::now();
        let (ir, socket_layout) =
            crate::lower::lower_sockets(&plan, &sockets, iterator, env.btf, env.features)?;
        if socket_layout != layout {
            return Err(Diagnostic::error(
                codes::INTERNAL,
                "internal error (this is a bug in bpfq): a socket program's row layout differs",
            )
            .with_primary(span, "while compiling this"));
        }
        times.lower += clock.elapsed();
        let clock = Instant::now();
        let program = generate(&ir, env.features).map_err(|err| codegen_diagnostic(err, span))?;
        times.emit += clock.elapsed();
        let mut prog_name = format!(
            "{}sks_{}",
            crate::bind::PROGRAM_PREFIX,
            iterator.target.name
        );
        prog_name.truncate(15);
        socket_programs.push(SocketProgram {
            target: iterator.target.clone(),
            ir,
            program,
            prog_name,
        });
    }
    Ok(rows_elsewhere(
        plan,
        layout,
        RowsFrom::SocketIterators(sockets),
        socket_programs,
    ))
}

/// `compiled` again with its grouping in user space, whatever the planner chose (the hidden
/// `--group-in user`, to compare both paths). A query grouped in user space already, or not
/// grouped at all, comes back unchanged.
pub fn group_in_user_space(
    compiled: Compiled,
    env: &BindEnv,
    span: Span,
) -> Result<Compiled, Diagnostic> {
    if !matches!(compiled.plan.group_place, Some(GroupPlace::Kernel(_))) {
        return Ok(compiled);
    }
    let mut plan = compiled.plan;
    plan.group_place = Some(GroupPlace::User {
        reason: "asked for with --group-in user".into(),
    });
    finish(plan, env, span, &mut StageTimes::default())
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
