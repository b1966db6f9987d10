//! Canonical source form (stage: fmt, after parse): `bpfq fmt`. A module is parsed, laid out
//! from its AST (`items.rs`, `expr.rs`; `doc.rs` breaks lines at `WIDTH` columns) with its
//! comments put back (`comments.rs`), then checked: the output must parse to the same tree
//! (spans aside, `unspan.rs`) and hold every comment of the input, in order. Output that
//! fails either check is never returned.
//!
//! The canonical style: lowercase keywords; one clause per line; lists filled to the width,
//! continuation lines aligned after the clause keyword; single spaces around operators and
//! after commas; the fewest parentheses that keep the tree; casts as `cast(e as t)`; names
//! backquoted only when the grammar needs it; items ended by `;` and separated by one empty
//! line (a file that is one bare query has no `;`); empty lines kept before comments only;
//! one final newline. Formatting formatted text changes nothing.

mod comments;
mod doc;
mod expr;
mod items;
mod spelling;
mod unspan;

use super::ast::Item;
use super::lexical::{scan, Token};
use super::parse_module;
use crate::codes;
use crate::diagnostic::{Diagnostic, FileId, Span};
use std::collections::HashMap;

pub use comments::Comment;
pub use unspan::without_spans;

/// Lines are filled up to this many columns.
pub const WIDTH: usize = 100;

/// What the layout code needs while walking one module.
struct Builder<'a> {
    src: &'a str,
    tokens: &'a [Token],
    comments: comments::Pending<'a>,
    /// Keep every parenthesis and postfix cast the source has, add none: the output then nests
    /// no deeper than the input, which the parser's depth limits accepted.
    conservative: bool,
    /// Byte offset of each `(` -> offset just past its `)`.
    closing: HashMap<usize, usize>,
}

/// The canonical form of the module `src` (a query file or stdlib file), or the parse error.
pub fn format_module(src: &str, file: FileId) -> Result<String, Diagnostic> {
    let module = parse_module(src, file)?;
    let tokens = scan(src, file)?;
    let mut comments = comments::collect(src, &tokens);
    let documented: Vec<usize> = module
        .items
        .iter()
        .filter(|item| !matches!(item, Item::Bare(_)))
        .map(|item| items::item_span(item).start as usize)
        .collect();
    comments::mark_docs(src, &mut comments, &documented);
    let closing = matching_parens(src, &tokens);
    let layout = |conservative: bool| {
        let mut builder = Builder {
            src,
            tokens: &tokens,
            comments: comments::Pending::new(src, &comments),
            conservative,
            closing: closing.clone(),
        };
        doc::render(&builder.module(&module), WIDTH)
    };
    let formatted = layout(false);
    match verify(src, &formatted, file) {
        Ok(()) => Ok(formatted),
        // The canonical form nests deeper than the parser allows (a query at its limits):
        // keep the source's own brackets instead.
        Err(error) => {
            let conservative = layout(true);
            verify(src, &conservative, file).map_err(|_| error)?;
            Ok(conservative)
        }
    }
}

fn matching_parens(src: &str, tokens: &[Token]) -> HashMap<usize, usize> {
    let mut open = Vec::new();
    let mut closing = HashMap::new();
    for token in tokens {
        match token.text(src) {
            "(" => open.push(token.start),
            ")" => {
                if let Some(start) = open.pop() {
                    closing.insert(start, token.end);
                }
            }
            _ => {}
        }
    }
    closing
}

/// Every comment of `src`, in order (`src` must scan: see `lexical::scan`).
pub fn comments_of(src: &str, file: FileId) -> Result<Vec<Comment>, Diagnostic> {
    let tokens = scan(src, file)?;
    Ok(comments::collect(src, &tokens))
}

/// Checks that `formatted` means what `original` means and keeps its comments, in order.
pub fn verify(original: &str, formatted: &str, file: FileId) -> Result<(), Diagnostic> {
    let before = parse_module(original, file)?;
    let whole_file = Span::new(file, 0, original.len());
    let after = parse_module(formatted, file).map_err(|error| {
        changed_meaning(
            whole_file,
            &format!(
                "its output does not parse ({}: {})",
                error.code, error.message
            ),
        )
    })?;
    if without_spans(&before) != without_spans(&after) {
        return Err(changed_meaning(
            whole_file,
            "its output parses to a different query",
        ));
    }
    let texts = |src: &str| -> Result<Vec<String>, Diagnostic> {
        Ok(comments_of(src, file)?
            .into_iter()
            .map(|comment| comment.text)
            .collect())
    };
    let (kept, had) = (texts(formatted)?, texts(original)?);
    if kept != had {
        let lost = comments_of(original, file)?
            .into_iter()
            .find(|comment| !kept.contains(&comment.text));
        let span = lost.map_or(whole_file, |comment| {
            Span::new(file, comment.start, comment.start + comment.text.len())
        });
        return Err(Diagnostic::error(
            codes::FMT_COMMENT_MISPLACED,
            "the formatter cannot keep every comment where it is; nothing was written",
        )
        .with_primary(span, "this comment would be lost or moved out of order")
        .with_note(
            "help: move the comment to its own line before the clause or item it is about",
        ));
    }
    Ok(())
}

fn changed_meaning(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        codes::INTERNAL_FORMAT,
        format!(
            "formatting would change this file: {what}; this is a bug in bpfq, nothing was written"
        ),
    )
    .with_primary(span, "while formatting this file")
    .with_note("please report it with the file; `bpfq check` still reads the file as written")
}
