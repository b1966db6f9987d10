//! Layout documents (stage: fmt, after parse): a small Wadler-style pretty printer. A `Doc`
//! says where lines may break; `render` picks, group by group (outermost first), the flat
//! form when it fits in the width, else the broken one. Comments are layout too: a trailing
//! comment is held until the next newline, so no code can ever follow it on its line.

/// What the formatter lays out.
#[derive(Debug, Clone)]
pub enum Doc {
    Text(String),
    /// A space when its group is flat, a newline at the current indentation when broken.
    Line,
    /// Always a newline.
    HardLine,
    /// Always a newline, with one empty line before the next text (two in a row give one).
    BlankLine,
    Concat(Vec<Doc>),
    /// Flat if it fits in the rest of the line, else its lines break.
    Group(Box<Doc>),
    /// Broken lines inside are indented by this many more columns.
    Nest(usize, Box<Doc>),
    /// Broken lines inside start at the column where this starts.
    Align(Box<Doc>),
    /// Items separated by `separator` and a space, or `separator` and a newline before an
    /// item that does not fit on the line (text filled like a paragraph).
    Fill(Vec<Doc>, &'static str),
    /// A comment that ends the line it is on: written before the next newline.
    LineSuffix(String),
    /// Forces every enclosing group to break (a comment needs its line end).
    BreakParent,
    /// A comment on a line of its own.
    OwnLine {
        text: String,
        blank_before: bool,
        blank_after: bool,
    },
}

impl Doc {
    pub fn text(text: impl Into<String>) -> Doc {
        Doc::Text(text.into())
    }

    pub fn group(doc: Doc) -> Doc {
        Doc::Group(Box::new(doc))
    }

    pub fn nest(indent: usize, doc: Doc) -> Doc {
        Doc::Nest(indent, Box::new(doc))
    }

    pub fn align(doc: Doc) -> Doc {
        Doc::Align(Box::new(doc))
    }
}

/// Lays `doc` out in `width` columns: trailing spaces trimmed, one final newline unless the
/// document is empty.
pub fn render(doc: &Doc, width: usize) -> String {
    let mut printer = Printer {
        out: String::new(),
        column: 0,
        width,
        suffixes: Vec::new(),
        newline_due: false,
        blank_due: false,
        comment_ended_last_line: false,
        deferred: Vec::new(),
    };
    printer.print(doc, 0, false, 0);
    printer.finish()
}

struct Printer {
    out: String,
    column: usize,
    width: usize,
    /// Trailing comments waiting for the end of the current line.
    suffixes: Vec<String>,
    /// An own-line comment was written: the next text starts a new line.
    newline_due: bool,
    /// ... and one empty line comes first.
    blank_due: bool,
    /// The last line ended (the current line has not started yet, or has only its indentation)
    /// ends with a comment.
    comment_ended_last_line: bool,
    /// Line comments that could not end the line they were meant for (it had one already):
    /// each goes on a line of its own where the next text starts, as an own-line comment
    /// there would, so that formatting the output again puts it in the same place.
    deferred: Vec<String>,
}

impl Printer {
    /// `tail`: how many columns of text follow `doc` on its last line before a line may
    /// break (a closing `)` and `;`), so that a group does not fit only to push them past
    /// the width.
    fn print(&mut self, doc: &Doc, indent: usize, flat: bool, tail: usize) {
        match doc {
            Doc::Text(text) => self.write(text, indent),
            Doc::Line if flat => {
                if !self.newline_due {
                    self.write_raw(" ");
                }
            }
            Doc::Line | Doc::HardLine => self.newline(indent),
            Doc::BlankLine => {
                self.newline(indent);
                self.blank_above(indent);
            }
            Doc::Concat(docs) => {
                for (index, doc) in docs.iter().enumerate() {
                    let mut after = 0;
                    let broken = docs[index + 1..]
                        .iter()
                        .any(|next| width_until_break(next, &mut after));
                    let tail = if broken { after } else { after + tail };
                    self.print(doc, indent, flat, tail);
                }
            }
            Doc::Group(inner) => {
                let fits = flat || fits(inner, self.room(indent).saturating_sub(tail));
                self.print(inner, indent, fits, tail);
            }
            Doc::Nest(more, inner) => self.print(inner, indent + more, flat, tail),
            Doc::Align(inner) => {
                let column = if self.newline_due {
                    indent
                } else {
                    self.column
                };
                self.print(inner, column, flat, tail);
            }
            Doc::Fill(items, separator) => self.fill(items, separator, indent, flat, tail),
            Doc::LineSuffix(comment) => self.line_suffix(comment, indent),
            Doc::BreakParent => {}
            Doc::OwnLine {
                text,
                blank_before,
                blank_after,
            } => {
                if self.line_has_text() || self.newline_due {
                    self.newline(indent);
                }
                self.flush_deferred(indent);
                if self.newline_due {
                    self.newline(indent);
                }
                if *blank_before {
                    self.blank_above(indent);
                }
                self.write_raw(text);
                self.newline_due = true;
                self.blank_due = *blank_after;
            }
        }
    }

    /// A comment that ends a line of code: on this line if it has code, else on the last line
    /// written (it was on the line of the code before it); on a line of its own when that line
    /// already ends with a comment, since a second comment there would merge with it.
    fn line_suffix(&mut self, comment: &str, indent: usize) {
        self.flush_deferred(indent);
        if self.newline_due {
            self.newline(indent);
        } else if self.line_has_text() {
            self.suffixes.push(comment.to_string());
            return;
        } else if !self.comment_ended_last_line && !self.out.trim().is_empty() {
            let end = self.out.trim_end().len();
            self.out.insert_str(end, &format!(" {comment}"));
            self.comment_ended_last_line = true;
            return;
        }
        self.own_line_comment(comment);
    }

    /// A line comment written on a line of its own after all: a doc-like one (`---`) gets an
    /// empty line after it, or it would document the item below.
    fn own_line_comment(&mut self, comment: &str) {
        self.write_raw(comment);
        self.newline_due = true;
        self.blank_due = crate::syntax::lexical::doc_comment_text(comment).is_some();
    }

    fn fill(&mut self, items: &[Doc], separator: &str, indent: usize, flat: bool, tail: usize) {
        for (index, item) in items.iter().enumerate() {
            let item_tail = if index + 1 == items.len() {
                tail
            } else {
                separator.chars().count()
            };
            if index == 0 {
                self.print(item, indent, flat, item_tail);
                continue;
            }
            self.write(separator, indent);
            let on_this_line = flat
                || (self.suffixes.is_empty()
                    && !self.newline_due
                    && fits(item, self.room(indent).saturating_sub(1 + item_tail)));
            if on_this_line {
                self.write_raw(" ");
                self.print(item, indent, true, item_tail);
            } else {
                self.newline(indent);
                self.print(item, indent, false, item_tail);
            }
        }
    }

    /// Columns left on the line the next text goes to.
    fn room(&self, indent: usize) -> usize {
        let column = if self.newline_due {
            indent
        } else {
            self.column
        };
        self.width.saturating_sub(column)
    }

    fn line_has_text(&self) -> bool {
        let line = self.out.rsplit('\n').next().unwrap_or("");
        !line.trim().is_empty()
    }

    fn write(&mut self, text: &str, indent: usize) {
        self.flush_deferred(indent);
        if self.newline_due {
            self.newline(indent);
        }
        self.write_raw(text);
    }

    fn write_raw(&mut self, text: &str) {
        self.out.push_str(text);
        self.column += text.chars().count();
    }

    /// Ends the line (its trailing comments first) and indents the next one.
    fn newline(&mut self, indent: usize) {
        let ends_in_comment = self.newline_due || !self.suffixes.is_empty();
        self.end_line();
        self.comment_ended_last_line = ends_in_comment;
        if self.blank_due && !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
        self.newline_due = false;
        self.blank_due = false;
        self.out.push_str(&" ".repeat(indent));
        self.column = indent;
    }

    fn end_line(&mut self) {
        let mut suffixes = std::mem::take(&mut self.suffixes).into_iter();
        if let Some(comment) = suffixes.next() {
            if self.line_has_text() {
                self.out.push(' ');
            }
            self.out.push_str(&comment);
        }
        // Two comments cannot share a line: the first would swallow the second.
        self.deferred.extend(suffixes);
        self.trim_line_end();
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    /// Writes the deferred comments, each on its own line.
    fn flush_deferred(&mut self, indent: usize) {
        for comment in std::mem::take(&mut self.deferred) {
            if self.line_has_text() || self.newline_due {
                self.newline(indent);
            }
            self.own_line_comment(&comment);
        }
    }

    /// At the start of a line: makes the line above it empty (not at the top of the output).
    fn blank_above(&mut self, indent: usize) {
        self.trim_line_end();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
        self.out.push_str(&" ".repeat(indent));
        self.column = indent;
    }

    fn trim_line_end(&mut self) {
        let kept = self.out.trim_end_matches([' ', '\t']).len();
        self.out.truncate(kept);
    }

    fn finish(mut self) -> String {
        self.end_line();
        self.flush_deferred(0);
        self.end_line();
        let kept = self.out.trim_end().len();
        self.out.truncate(kept);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }
}

/// Adds to `width` the text of `doc` up to its first possible line break; true if it has one.
fn width_until_break(doc: &Doc, width: &mut usize) -> bool {
    match doc {
        Doc::Text(text) => {
            *width += text.chars().count();
            false
        }
        Doc::Line | Doc::HardLine | Doc::BlankLine | Doc::OwnLine { .. } => true,
        Doc::LineSuffix(_) | Doc::BreakParent => false,
        Doc::Concat(docs) | Doc::Fill(docs, _) => {
            docs.iter().any(|doc| width_until_break(doc, width))
        }
        Doc::Group(inner) | Doc::Nest(_, inner) | Doc::Align(inner) => {
            width_until_break(inner, width)
        }
    }
}

/// Whether `doc`, laid out flat, fits in `room` columns and has no forced break.
fn fits(doc: &Doc, room: usize) -> bool {
    let mut left = room as isize;
    fits_in(doc, &mut left) && left >= 0
}

fn fits_in(doc: &Doc, left: &mut isize) -> bool {
    match doc {
        Doc::Text(text) => {
            *left -= text.chars().count() as isize;
            *left >= 0
        }
        Doc::Line => {
            *left -= 1;
            *left >= 0
        }
        Doc::LineSuffix(_) => true,
        Doc::HardLine | Doc::BlankLine | Doc::BreakParent | Doc::OwnLine { .. } => false,
        Doc::Concat(docs) => docs.iter().all(|doc| fits_in(doc, left)),
        Doc::Fill(items, separator) => items.iter().enumerate().all(|(index, item)| {
            if index > 0 {
                *left -= separator.len() as isize + 1;
            }
            fits_in(item, left)
        }),
        Doc::Group(inner) | Doc::Nest(_, inner) | Doc::Align(inner) => fits_in(inner, left),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(items: &[&str]) -> Doc {
        Doc::Fill(items.iter().map(|item| Doc::text(*item)).collect(), ",")
    }

    #[test]
    fn groups_break_only_when_too_wide() {
        let doc = Doc::group(Doc::Concat(vec![
            Doc::text("aaa"),
            Doc::nest(2, Doc::Concat(vec![Doc::Line, Doc::text("bbb")])),
        ]));
        assert_eq!(render(&doc, 20), "aaa bbb\n");
        assert_eq!(render(&doc, 5), "aaa\n  bbb\n");
    }

    #[test]
    fn fill_packs_items_and_aligns_continuations() {
        let doc = Doc::Concat(vec![
            Doc::text("select "),
            Doc::align(words(&["aa", "bb", "cc", "dd"])),
        ]);
        assert_eq!(render(&doc, 16), "select aa, bb,\n       cc, dd\n");
    }

    #[test]
    fn trailing_comments_wait_for_the_line_end() {
        let doc = Doc::Concat(vec![
            Doc::text("select "),
            Doc::align(Doc::Fill(
                vec![
                    Doc::Concat(vec![Doc::text("a"), Doc::LineSuffix("-- one".into())]),
                    Doc::text("b"),
                ],
                ",",
            )),
        ]);
        assert_eq!(render(&doc, 80), "select a, -- one\n       b\n");
    }

    #[test]
    fn own_line_comments_get_their_own_line() {
        let comment = |text: &str| Doc::OwnLine {
            text: text.into(),
            blank_before: true,
            blank_after: false,
        };
        let doc = Doc::Concat(vec![
            comment("-- a"),
            Doc::text("x"),
            comment("-- b"),
            Doc::text("y"),
        ]);
        assert_eq!(render(&doc, 80), "-- a\nx\n\n-- b\ny\n");
    }
}
