//! Stage `format`: rows as CSV or TSV. Guarantees every row is exactly one LF-terminated line
//! and no control character is written raw: in both, a field's tab, LF, CR, backslash and
//! every other control or bidi character (`escape.rs`) are written `\t`, `\n`, `\r`, `\\`,
//! `\xNN`, `\u{NNNN}` (undoing these escapes gives the text back exactly); CSV then quotes,
//! per RFC 4180, a field holding a comma or double quote, inner quotes doubled. NULL is an
//! empty field. Rows are written as they arrive (streaming), built in a reused buffer (no
//! allocation per row, except for a field that needs quotes).

use std::io;

use bpfq_compiler::layout::RowLayout;

use super::escape::{self, Backslash};
use super::{text, write_pending, FormatOptions, RowSink, TextBuf};
use crate::decode::Row;

pub struct CsvSink<W: io::Write> {
    out: W,
    options: FormatOptions,
    /// TSV instead of CSV.
    tabs: bool,
    /// The current field's text, before quoting.
    field: TextBuf,
    /// Lines not yet written (the last one may be in progress).
    line: TextBuf,
}

impl<W: io::Write> CsvSink<W> {
    pub fn new(out: W, options: FormatOptions) -> CsvSink<W> {
        CsvSink {
            out,
            options,
            tabs: false,
            field: TextBuf::new(),
            line: TextBuf::new(),
        }
    }

    /// A sink writing tab-separated values.
    pub fn tsv(out: W, options: FormatOptions) -> CsvSink<W> {
        CsvSink {
            tabs: true,
            ..CsvSink::new(out, options)
        }
    }

    /// Appends the escaped `self.field` to the line, after a separator unless it is the first
    /// of its line.
    fn push_field(&mut self, first: bool) {
        if !first {
            self.line.push(if self.tabs { '\t' } else { ',' });
        }
        if self.tabs {
            push_tsv_escaped(&mut self.line, &self.field);
        } else {
            push_quoted(&mut self.line, &self.field);
        }
    }

    fn write_line(&mut self) -> io::Result<()> {
        self.line.push('\n');
        write_pending(&mut self.out, &mut self.line, false)
    }
}

/// One TSV field: tab, line breaks, backslash and every hidden character escaped
/// (`escape::push_text`), so a row stays one line and reads back exactly.
fn push_tsv_escaped(out: &mut TextBuf, field: &TextBuf) {
    escape::push_text(out, &field.text_from(0), Backslash::Doubled);
}

/// One field: escaped as in TSV, then quoted only when RFC 4180 requires it (a comma or a
/// double quote; escaping leaves no line break).
fn push_quoted(out: &mut TextBuf, field: &TextBuf) {
    let start = out.len();
    push_tsv_escaped(out, field);
    if !out
        .bytes_from(start)
        .iter()
        .any(|b| matches!(b, b',' | b'"'))
    {
        return;
    }
    let escaped = out.text_from(start).into_owned();
    out.truncate(start);
    out.push('"');
    for ch in escaped.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
}

impl<W: io::Write> RowSink for CsvSink<W> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        if self.options.header {
            for (index, column) in layout.columns.iter().enumerate() {
                self.field.clear();
                self.field.push_str(&column.name);
                self.push_field(index == 0);
            }
            self.write_line()?;
        }
        Ok(())
    }

    fn row(&mut self, row: &dyn Row) -> io::Result<()> {
        for index in 0..row.cell_count() {
            self.field.clear();
            // NULL leaves the field empty.
            text::push_plain(&mut self.field, &row.cell(index), &self.options);
            self.push_field(index == 0);
        }
        self.write_line()
    }

    fn end(&mut self) -> io::Result<()> {
        write_pending(&mut self.out, &mut self.line, true)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::{push_quoted, push_tsv_escaped, TextBuf};

    fn buf(text: &str) -> TextBuf {
        let mut buf = TextBuf::new();
        buf.push_str(text);
        buf
    }

    fn quote(field: &str) -> String {
        let mut out = TextBuf::new();
        push_quoted(&mut out, &buf(field));
        out.into_string()
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("two\nlines"), "two\\nlines");
        assert_eq!(quote("cr\r"), "cr\\r");
        assert_eq!(quote("a,\u{1b}[31m\\"), "\"a,\\x1b[31m\\\\\"");
        assert_eq!(quote("\u{202e}\"x\""), "\"\\u{202e}\"\"x\"\"\"");
    }

    #[test]
    fn tsv_escapes_separators_and_backslashes() {
        let mut out = TextBuf::new();
        push_tsv_escaped(&mut out, &buf("a\tb\\c\nd\re"));
        push_tsv_escaped(&mut out, &buf("\u{1b}[0m\u{85}\u{2067}"));
        assert_eq!(
            out.into_string(),
            "a\\tb\\\\c\\nd\\re\\x1b[0m\\x85\\u{2067}"
        );
    }
}
