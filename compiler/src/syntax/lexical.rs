//! Lexical pre-scan (stage: parse, before the grammar): splits the source into coarse
//! tokens and rejects what the grammar would report badly: unterminated strings and
//! backquoted names, unbalanced brackets, nesting deep enough to threaten the stack, and
//! control characters (E0021).
//! After it succeeds, every bracket is matched and nesting is bounded.

use crate::codes;
use crate::diagnostic::{Diagnostic, FileId, Span};
use crate::hidden::visible;

/// Deepest bracket nesting accepted; real queries stay far below, and it keeps the
/// recursive parser and every later recursive stage within a thread's stack.
pub const MAX_NESTING: usize = 48;
/// Longest run of prefix operators (`- ~ not`) accepted, for the same reason.
pub const MAX_PREFIX_RUN: usize = 48;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Word,
    Number,
    Str,
    Quoted,
    Punct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text(self, src: &str) -> &str {
        src.get(self.start..self.end).unwrap_or("")
    }
}

const TWO_CHAR_PUNCT: [&str; 8] = ["==", "!=", "<>", "<=", ">=", "<<", ">>", "??"];

/// Tokenise `src`, checking strings, names and brackets.
pub fn scan(src: &str, file: FileId) -> Result<Vec<Token>, Diagnostic> {
    check_control_characters(src, file)?;
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut open_brackets: Vec<(u8, usize)> = Vec::new();
    let mut prefix_run = 0usize;
    let mut pos = 0usize;
    while pos < bytes.len() {
        let byte = bytes[pos];
        let start = pos;
        let kind = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                pos += 1;
                continue;
            }
            b'-' if bytes.get(pos + 1) == Some(&b'-') => {
                pos = line_end(bytes, pos);
                continue;
            }
            b'"' => {
                pos = string_end(src, pos, file)?;
                TokenKind::Str
            }
            b'`' => {
                pos = quoted_end(bytes, pos, file)?;
                TokenKind::Quoted
            }
            b'0'..=b'9' => {
                pos = word_end(bytes, pos);
                TokenKind::Number
            }
            b'$' | b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                pos = word_end(bytes, pos + 1);
                TokenKind::Word
            }
            b'(' | b'[' => {
                open_brackets.push((byte, pos));
                if open_brackets.len() > MAX_NESTING {
                    return Err(Diagnostic::error(
                        codes::PARSE_TOO_DEEP,
                        format!("brackets nest more than {MAX_NESTING} deep"),
                    )
                    .with_primary(Span::new(file, pos, pos + 1), "this one is too deep"));
                }
                pos += 1;
                TokenKind::Punct
            }
            b')' | b']' => {
                check_closer(&mut open_brackets, byte, pos, file)?;
                pos += 1;
                TokenKind::Punct
            }
            _ => {
                let two = src.get(pos..pos + 2).unwrap_or("");
                pos += if TWO_CHAR_PUNCT.contains(&two) {
                    2
                } else {
                    // one whole character, which may be several bytes
                    src[pos..].chars().next().map_or(1, char::len_utf8)
                };
                TokenKind::Punct
            }
        };
        let token = Token {
            kind,
            start,
            end: pos,
        };
        let text = token.text(src);
        if text == "-" || text == "~" || text.eq_ignore_ascii_case("not") {
            prefix_run += 1;
            if prefix_run > MAX_PREFIX_RUN {
                return Err(Diagnostic::error(
                    codes::PARSE_TOO_DEEP,
                    format!("more than {MAX_PREFIX_RUN} prefix operators in a row"),
                )
                .with_primary(
                    Span::new(file, start, pos),
                    "too many operators before this point",
                ));
            }
        } else {
            prefix_run = 0;
        }
        tokens.push(token);
    }
    if let Some(&(opener, offset)) = open_brackets.last() {
        let closer = if opener == b'(' { ')' } else { ']' };
        return Err(Diagnostic::error(
            codes::PARSE_UNBALANCED,
            format!("this `{}` is never closed", opener as char),
        )
        .with_primary(Span::new(file, offset, offset + 1), "opened here")
        .with_secondary(
            Span::new(file, src.len(), src.len()),
            format!("expected `{closer}` before the end of the input"),
        ));
    }
    Ok(tokens)
}

/// A control character other than tab and line breaks (a NUL byte, an escape sequence) has no
/// place in query text, not even in a string or comment: E0021 at the first one.
fn check_control_characters(src: &str, file: FileId) -> Result<(), Diagnostic> {
    let control = |ch: char| ch.is_control() && !matches!(ch, '\t' | '\n' | '\r');
    let Some((offset, ch)) = src.char_indices().find(|&(_, ch)| control(ch)) else {
        return Ok(());
    };
    Err(Diagnostic::error(
        codes::PARSE_CONTROL_CHARACTER,
        format!(
            "the query text holds control character U+{:04X}",
            u32::from(ch)
        ),
    )
    .with_primary(
        Span::new(file, offset, offset + ch.len_utf8()),
        "control character here",
    )
    .with_note(format!(
        "help: remove it; in a string, write it as an escape (`{}`)",
        visible(ch)
    )))
}

fn check_closer(
    open_brackets: &mut Vec<(u8, usize)>,
    closer: u8,
    pos: usize,
    file: FileId,
) -> Result<(), Diagnostic> {
    let wanted_opener = if closer == b')' { b'(' } else { b'[' };
    match open_brackets.pop() {
        Some((opener, _)) if opener == wanted_opener => Ok(()),
        Some((opener, offset)) => {
            let expected = if opener == b'(' { ')' } else { ']' };
            Err(Diagnostic::error(
                codes::PARSE_UNBALANCED,
                format!("expected `{expected}`, found `{}`", closer as char),
            )
            .with_primary(
                Span::new(file, pos, pos + 1),
                format!("expected `{expected}` here"),
            )
            .with_secondary(
                Span::new(file, offset, offset + 1),
                format!("to close this `{}`", opener as char),
            ))
        }
        None => Err(Diagnostic::error(
            codes::PARSE_UNBALANCED,
            format!("unmatched `{}`", closer as char),
        )
        .with_primary(
            Span::new(file, pos, pos + 1),
            format!("no `{}` before this", wanted_opener as char),
        )),
    }
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |offset| from + offset)
}

fn word_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .map_or(bytes.len(), |offset| from + offset)
}

/// Offset just past the closing quote of the string starting at `open`.
fn string_end(src: &str, open: usize, file: FileId) -> Result<usize, Diagnostic> {
    let bytes = src.as_bytes();
    let mut pos = open + 1;
    while pos < bytes.len() {
        match bytes[pos] {
            b'"' => return Ok(pos + 1),
            b'\n' => break,
            // Skip the escaped byte; a backslash before a newline leaves the string open.
            b'\\' if bytes.get(pos + 1).is_some_and(|&b| b != b'\n') => pos += 2,
            _ => pos += 1,
        }
    }
    let end = line_end(bytes, open);
    Err(
        Diagnostic::error(codes::PARSE_UNTERMINATED_STRING, "unterminated string")
            .with_primary(
                Span::new(file, open, end),
                "this string has no closing `\"`",
            )
            .with_note("help: strings end on the line they start; write a newline as `\\n`"),
    )
}

fn quoted_end(bytes: &[u8], open: usize, file: FileId) -> Result<usize, Diagnostic> {
    let end = line_end(bytes, open);
    match bytes[open + 1..end].iter().position(|&b| b == b'`') {
        Some(offset) => Ok(open + 1 + offset + 1),
        None => Err(Diagnostic::error(
            codes::PARSE_UNTERMINATED_NAME,
            "unterminated backquoted name",
        )
        .with_primary(
            Span::new(file, open, end),
            "this name has no closing backquote",
        )),
    }
}

/// The text of a doc comment line (`--- text`; a `----` line is a separator, not a doc
/// comment), or None: the one rule the parser and the formatter both read doc comments by.
pub fn doc_comment_text(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("---")?;
    (!rest.starts_with('-')).then(|| rest.strip_prefix(' ').unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        scan(src, 0)
            .map(|tokens| tokens.iter().map(|t| t.text(src)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn splits_words_numbers_strings_and_operators() {
        assert_eq!(
            texts("from task -- note\nselect a<<2, \"x\\\"y\" where b <> `o`"),
            vec![
                "from",
                "task",
                "select",
                "a",
                "<<",
                "2",
                ",",
                "\"x\\\"y\"",
                "where",
                "b",
                "<>",
                "`o`"
            ]
        );
    }

    #[test]
    fn reports_unterminated_string_and_unbalanced_brackets() {
        let code = |src: &str| scan(src, 0).err().map(|d| d.code);
        assert_eq!(
            code("where x == \"abc"),
            Some(codes::PARSE_UNTERMINATED_STRING)
        );
        assert_eq!(
            code("where x == \"ab\\"),
            Some(codes::PARSE_UNTERMINATED_STRING)
        );
        assert_eq!(code("(a"), Some(codes::PARSE_UNBALANCED));
        assert_eq!(code("a)"), Some(codes::PARSE_UNBALANCED));
        assert_eq!(code("(a]"), Some(codes::PARSE_UNBALANCED));
        assert_eq!(code("`abc"), Some(codes::PARSE_UNTERMINATED_NAME));
        assert_eq!(
            code(&"(".repeat(MAX_NESTING + 1)),
            Some(codes::PARSE_TOO_DEEP)
        );
        assert_eq!(
            code(&"- ".repeat(MAX_PREFIX_RUN + 1)),
            Some(codes::PARSE_TOO_DEEP)
        );
        assert_eq!(code("\"a -- b\" -- \"c"), None);
    }
}
