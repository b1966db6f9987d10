//! Stage `format`: rows as CSV. Guarantees RFC 4180 quoting: a field containing a comma, a
//! double quote, CR or LF is quoted with inner quotes doubled; NULL is an empty field. Rows are
//! written as they arrive (streaming), one LF-terminated line per row, built in a reused buffer
//! (no allocation per row). The TSV variant separates with tabs and escapes tab, LF, CR and
//! backslash as `\t`, `\n`, `\r`, `\\` instead of quoting, so every row is exactly one line.

use std::io;

use bpfq_compiler::layout::RowLayout;

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

/// One TSV field: the separator and line breaks escaped, so a row stays one line.
fn push_tsv_escaped(out: &mut TextBuf, field: &TextBuf) {
    let special = |b: &u8| matches!(b, b'\t' | b'\n' | b'\r' | b'\\');
    if !field.as_bytes().iter().any(special) {
        out.push_buf(field);
        return;
    }
    for ch in field.text_from(0).chars() {
        match ch {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            other => out.push(other),
        }
    }
}

/// One field, quoted only when RFC 4180 requires it.
fn push_quoted(out: &mut TextBuf, field: &TextBuf) {
    let special = |b: &u8| matches!(b, b',' | b'"' | b'\r' | b'\n');
    if !field.as_bytes().iter().any(special) {
        out.push_buf(field);
        return;
    }
    out.push('"');
    for ch in field.text_from(0).chars() {
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
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
        assert_eq!(quote("cr\r"), "\"cr\r\"");
    }

    #[test]
    fn tsv_escapes_separators_and_backslashes() {
        let mut out = TextBuf::new();
        push_tsv_escaped(&mut out, &buf("a\tb\\c\nd\re"));
        assert_eq!(out.into_string(), "a\\tb\\\\c\\nd\\re");
    }
}
