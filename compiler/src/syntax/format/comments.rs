//! Comments for the formatter (stage: fmt): the AST has none, so they are read from the
//! source text — the gaps between the lexical scanner's tokens, which hold only whitespace
//! and comments, so `--` inside a string or a backquoted name is never taken for one — and
//! handed out in source order as the printer walks the AST. Every comment is handed out once.

use super::doc::Doc;
use crate::syntax::lexical::doc_comment_text;
use crate::syntax::lexical::Token;

/// One `--` comment (doc comments `---` included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Byte offset of its `--`.
    pub start: usize,
    /// The text from `--` to the end of the line, trailing whitespace removed.
    pub text: String,
    /// Nothing but whitespace before it on its line.
    pub own_line: bool,
    /// An empty line separates it from what comes before.
    pub blank_before: bool,
    /// An empty line separates it from the code after it.
    pub blank_after: bool,
    /// Part of an item's documentation (see `mark_docs`).
    pub is_doc: bool,
}

/// Whether `text` is written like a doc comment (`---`, not a `----` separator).
fn doc_like(text: &str) -> bool {
    doc_comment_text(text).is_some()
}

/// Marks the comments that document an item: the `---` lines directly above an item that
/// starts its line, as the parser reads them (`parser::doc_comment`). The printer keeps every
/// other doc-like comment away from the item below it, or it would become documentation.
pub fn mark_docs(src: &str, comments: &mut [Comment], documented_items: &[usize]) {
    for &item_start in documented_items {
        let Some(before) = src.get(..item_start) else {
            continue;
        };
        let mut line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        if !before[line_start..].trim().is_empty() {
            continue;
        }
        while line_start > 0 {
            let line_end = line_start - 1;
            let above_start = src[..line_end].rfind('\n').map_or(0, |newline| newline + 1);
            if !doc_like(src[above_start..line_end].trim()) {
                break;
            }
            if let Some(comment) = comments
                .iter_mut()
                .find(|comment| (above_start..line_end).contains(&comment.start))
            {
                comment.is_doc = true;
            }
            line_start = above_start;
        }
    }
}

/// Every comment of `src`, in order; `tokens` are `lexical::scan(src)`.
pub fn collect(src: &str, tokens: &[Token]) -> Vec<Comment> {
    let mut comments = Vec::new();
    let mut gap_start = 0;
    for token in tokens {
        read_gap(src, gap_start, token.start, &mut comments);
        gap_start = token.end;
    }
    read_gap(src, gap_start, src.len(), &mut comments);
    comments
}

/// The comments in `src[start..end]`, a stretch of whitespace and comments.
fn read_gap(src: &str, start: usize, end: usize, comments: &mut Vec<Comment>) {
    let gap = src.get(start..end).unwrap_or("");
    let mut offset = 0;
    let mut previous_end = start;
    while let Some(found) = gap[offset..].find("--") {
        let comment_start = start + offset + found;
        let line_end = gap[offset + found..]
            .find('\n')
            .map_or(end, |newline| comment_start + newline);
        let line_start = src[..comment_start].rfind('\n').map_or(0, |i| i + 1);
        let after = &src[line_end..end];
        comments.push(Comment {
            start: comment_start,
            text: src[comment_start..line_end].trim_end().to_string(),
            own_line: src[line_start..comment_start].trim().is_empty(),
            blank_before: previous_end > 0
                && src[previous_end..comment_start].matches('\n').count() >= 2,
            blank_after: end < src.len()
                && !after.contains("--")
                && after.matches('\n').count() >= 2,
            is_doc: false,
        });
        previous_end = line_end;
        offset = line_end - start;
    }
}

/// The comments not yet printed, handed out as the printer reaches their places.
pub struct Pending<'a> {
    src: &'a str,
    comments: &'a [Comment],
    next: usize,
}

impl<'a> Pending<'a> {
    pub fn new(src: &'a str, comments: &'a [Comment]) -> Self {
        Pending {
            src,
            comments,
            next: 0,
        }
    }

    /// The comments before `offset`, to print before the code that starts there: own-line
    /// comments on their own lines, a comment that ended a line of code at the end of the
    /// line being written (or the last one written, when it has code and no comment).
    pub fn before(&mut self, offset: usize) -> Vec<Doc> {
        let mut docs = Vec::new();
        while let Some(comment) = self.comments.get(self.next) {
            if comment.start >= offset {
                break;
            }
            self.next += 1;
            if comment.own_line {
                let loose_doc_line = doc_like(&comment.text) && !comment.is_doc;
                docs.push(Doc::OwnLine {
                    text: comment.text.clone(),
                    blank_before: comment.blank_before,
                    blank_after: comment.blank_after || loose_doc_line,
                });
            } else {
                // No forced break here: where the comment lands must not depend on where it
                // was caught, or formatting the output again would lay it out differently.
                docs.push(Doc::LineSuffix(comment.text.clone()));
            }
        }
        docs
    }

    /// A comment that ends the line right after the code ending at `end` (only spaces, `,`
    /// or `;` between), to keep at the end of that code's line.
    pub fn after(&mut self, end: usize) -> Option<Doc> {
        let comment = self.comments.get(self.next)?;
        let between = self.src.get(end..comment.start)?;
        let same_line = !comment.own_line
            && between
                .chars()
                .all(|c| c == ' ' || c == '\t' || c == ',' || c == ';' || c == '\r');
        if !same_line {
            return None;
        }
        self.next += 1;
        Some(Doc::LineSuffix(comment.text.clone()))
    }

    /// `after(end)`, unless `skip` (the comment belongs to an enclosing node ending there).
    pub fn after_unless(&mut self, skip: bool, end: u32) -> Option<Doc> {
        if skip {
            None
        } else {
            self.after(end as usize)
        }
    }

    /// Every comment left (those after the last item).
    pub fn rest(&mut self) -> Vec<Doc> {
        self.before(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::lexical::scan;

    fn texts(src: &str) -> Vec<(String, bool)> {
        let tokens = scan(src, 0).unwrap_or_default();
        collect(src, &tokens)
            .into_iter()
            .map(|comment| (comment.text, comment.own_line))
            .collect()
    }

    #[test]
    fn comments_outside_strings_and_names_only() {
        let src = "-- head\nfrom task select \"a -- b\", `x--y` -- tail  \n--- doc\n";
        assert_eq!(
            texts(src),
            vec![
                ("-- head".to_string(), true),
                ("-- tail".to_string(), false),
                ("--- doc".to_string(), true)
            ]
        );
    }

    #[test]
    fn blank_lines_around_comments_are_noted() {
        let src = "a\n\n-- one\n-- two\n\nb";
        let tokens = scan(src, 0).unwrap_or_default();
        let comments = collect(src, &tokens);
        assert!(comments[0].blank_before && !comments[0].blank_after);
        assert!(!comments[1].blank_before && comments[1].blank_after);
    }
}
