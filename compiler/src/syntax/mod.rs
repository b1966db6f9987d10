//! Parse stage: source text -> AST with spans (`ast`), or one coded diagnostic.
//! Order of work: lexical pre-scan (strings, brackets, nesting), pest grammar
//! (grammar/bpfq.pest), then tree building with literal decoding and expression checks.
//! Never panics on any input.

pub mod ast;
pub mod display;
mod errors;
mod expr;
pub mod format;
pub mod lexical;
mod literal;
mod parser;
mod tree;

use pest::Parser;

use crate::diagnostic::{Diagnostic, FileId};
use tree::Ctx;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/bpfq.pest"]
struct BpfqGrammar;

pub use errors::describe_rule;
pub use format::format_module;

/// Parse one query (a command-line argument); a trailing `;` is allowed.
pub fn parse_query(src: &str, file: FileId) -> Result<ast::Query, Diagnostic> {
    let tokens = lexical::scan(src, file)?;
    let mut pairs = BpfqGrammar::parse(Rule::query_input, src)
        .map_err(|error| errors::from_pest(error, src, file, &tokens))?;
    let ctx = Ctx {
        file,
        tokens: &tokens,
    };
    match pairs.next() {
        Some(pair) => parser::query_input(ctx, pair),
        None => Err(Diagnostic::error(
            crate::codes::INTERNAL_PARSER,
            "internal parser error: no query in the parse tree; this is a bug in bpfq",
        )),
    }
}

/// Parse a query file or stdlib file: items separated by `;`.
pub fn parse_module(src: &str, file: FileId) -> Result<ast::Module, Diagnostic> {
    let tokens = lexical::scan(src, file)?;
    let mut pairs = BpfqGrammar::parse(Rule::module_input, src)
        .map_err(|error| errors::from_pest(error, src, file, &tokens))?;
    let ctx = Ctx {
        file,
        tokens: &tokens,
    };
    match pairs.next() {
        Some(pair) => parser::module_input(ctx, src, pair),
        None => Err(Diagnostic::error(
            crate::codes::INTERNAL_PARSER,
            "internal parser error: no module in the parse tree; this is a bug in bpfq",
        )),
    }
}
