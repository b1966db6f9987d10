//! Stage `format`: rows as CSV. Guarantees RFC 4180 quoting: a field containing a comma, a
//! double quote, CR or LF is quoted with inner quotes doubled; NULL is an empty field. Rows are
//! written as they arrive (streaming), one LF-terminated line per row. The TSV variant
//! separates with tabs and escapes tab, LF, CR and backslash as `\t`, `\n`, `\r`, `\\` instead
//! of quoting, so every row is exactly one line.

use std::io;

use bpfq_compiler::layout::RowLayout;

use super::{text, FormatOptions, RowSink};
use crate::decode::Value;

pub struct CsvSink<W: io::Write> {
    out: W,
    options: FormatOptions,
    /// TSV instead of CSV.
    tabs: bool,
}

impl<W: io::Write> CsvSink<W> {
    pub fn new(out: W, options: FormatOptions) -> CsvSink<W> {
        CsvSink {
            out,
            options,
            tabs: false,
        }
    }

    /// A sink writing tab-separated values.
    pub fn tsv(out: W, options: FormatOptions) -> CsvSink<W> {
        CsvSink {
            out,
            options,
            tabs: true,
        }
    }

    fn write_line<'a>(&mut self, fields: impl Iterator<Item = &'a str>) -> io::Result<()> {
        if self.tabs {
            let line: Vec<String> = fields.map(escape_tsv).collect();
            return writeln!(self.out, "{}", line.join("\t"));
        }
        let line: Vec<String> = fields.map(quote).collect();
        writeln!(self.out, "{}", line.join(","))
    }
}

/// One TSV field: the separator and line breaks escaped, so a row stays one line.
fn escape_tsv(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for ch in field.chars() {
        match ch {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            other => out.push(other),
        }
    }
    out
}

/// One field, quoted only when RFC 4180 requires it.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

impl<W: io::Write> RowSink for CsvSink<W> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        if self.options.header {
            let names: Vec<&str> = layout.columns.iter().map(|c| c.name.as_str()).collect();
            self.write_line(names.into_iter())?;
        }
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> io::Result<()> {
        let fields: Vec<String> = values
            .iter()
            .map(|v| text::plain(v, &self.options).unwrap_or_default())
            .collect();
        self.write_line(fields.iter().map(String::as_str))
    }

    fn end(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
        assert_eq!(quote("cr\r"), "\"cr\r\"");
    }
}
