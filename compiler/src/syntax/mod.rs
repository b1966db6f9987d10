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
pub mod query_text;
mod tree;

use pest::Parser;

use crate::diagnostic::{Diagnostic, FileId};
use tree::Ctx;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/bpfq.pest"]
struct BpfqGrammar;

pub use errors::describe_rule;
pub use expr::MAX_EXPR_DEPTH;
pub use format::format_module;
pub use query_text::{not_query_text, parse_module_file};

/// Parse one query (a command-line argument); a trailing `;` is allowed.
pub fn parse_query(src: &str, file: FileId) -> Result<ast::Query, Diagnostic> {
    let tokens = lexical::scan(src, file)?;
    let mut pairs = BpfqGrammar::parse(Rule::query_input, src)
        .map_err(|error| errors::from_pest(error, src, file, &tokens))?;
    let ctx = Ctx {
        file,
        tokens: &tokens,
        base: 0,
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
    parse_module_range(src, 0..src.len(), file)
}

/// Parse the items in `src[range]` as a whole-file parse would: spans point into `src` and doc
/// comments are those inside the range. The range must hold whole items with the comments above
/// them (the stdlib parses one definition at a time, when a query first uses it).
pub fn parse_module_range(
    src: &str,
    range: std::ops::Range<usize>,
    file: FileId,
) -> Result<ast::Module, Diagnostic> {
    let base = range.start;
    let shift = |mut diagnostic: Diagnostic| {
        for label in &mut diagnostic.labels {
            label.span.start += base as u32;
            label.span.end += base as u32;
        }
        diagnostic
    };
    let src = src.get(range).unwrap_or("");
    let tokens = lexical::scan(src, file).map_err(shift)?;
    let mut pairs = BpfqGrammar::parse(Rule::module_input, src)
        .map_err(|error| shift(errors::from_pest(error, src, file, &tokens)))?;
    let ctx = Ctx {
        file,
        tokens: &tokens,
        base,
    };
    match pairs.next() {
        Some(pair) => parser::module_input(ctx, src, pair),
        None => Err(Diagnostic::error(
            crate::codes::INTERNAL_PARSER,
            "internal parser error: no module in the parse tree; this is a bug in bpfq",
        )),
    }
}
