//! All compiler stages in order: parse -> bind -> plan -> lower -> emit. Guarantees: either a
//! complete program with its row layout (one per source of a join), or one coded diagnostic;
//! never a panic.

use crate::bind::{bind, BindEnv};
use crate::bpf::asm::Program;
use crate::codegen::{generate, CodegenError};
use crate::codes;
use crate::diagnostic::{Diagnostic, FileId, Span};
use crate::ir::Function;
use crate::join::{plan_join, JoinPlan};
use crate::layout::RowLayout;
use crate::plan::{plan, Plan};
use crate::syntax::ast;
use crate::syntax::parse_query;

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

/// Compiles the query in source file `file` of `env.sources`: a single source or a join.
pub fn compile_query(file: FileId, env: &BindEnv) -> Result<CompiledQuery, Diagnostic> {
    let ast = parse_query(env.sources.text(file), file)?;
    if ast.joins.is_empty() {
        return compile_ast(&ast, env).map(|c| CompiledQuery::Single(Box::new(c)));
    }
    let (typed, join) = plan_join(&ast, env)?;
    let mut sides = Vec::new();
    for side in typed {
        let mut plan = plan(side.query, env.sources);
        if plan.target.name != "ksym" {
            plan.kernel.filter_text = side.filter_text;
        }
        sides.push(finish(plan, env, ast.span)?);
    }
    Ok(CompiledQuery::Join(CompiledJoin { sides, join }))
}

/// Compiles the single-source query in source file `file` of `env.sources` (a join is an error:
/// use `compile_query`).
pub fn compile(file: FileId, env: &BindEnv) -> Result<Compiled, Diagnostic> {
    let ast = parse_query(env.sources.text(file), file)?;
    if let Some(join) = ast.joins.first() {
        return Err(
            Diagnostic::error(codes::UNSUPPORTED, "a join compiles to several programs")
                .with_primary(join.span, "here")
                .with_note("this caller takes single-source queries only"),
        );
    }
    compile_ast(&ast, env)
}

fn compile_ast(ast: &ast::Query, env: &BindEnv) -> Result<Compiled, Diagnostic> {
    let typed = bind(ast, env)?;
    finish(plan(typed, env.sources), env, ast.span)
}

/// lower + emit of one source's plan.
fn finish(plan: Plan, env: &BindEnv, span: Span) -> Result<Compiled, Diagnostic> {
    let (ir, layout) = crate::lower::lower(&plan, env.btf)?;
    let program = generate(&ir).map_err(|err| codegen_diagnostic(err, span))?;
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
