//! Stage `format`: rows as one JSON array of objects (keys = column names). Guarantees valid
//! JSON for any text (`escape::push_json`: quotes, backslashes, and every character that must
//! not reach a terminal raw as `\uNNNN`), numbers as JSON
//! numbers, NULL as `null`; pointers and bytes as strings. Streams one object per line, built in
//! a reused buffer (no allocation per row); in JSON Lines mode (`-o jsonl`) each line is a
//! complete document and there is no array.

use std::io;

use bpfq_compiler::layout::RowLayout;

use super::{escape, text, write_pending, FormatOptions, RowSink, TextBuf};
use crate::decode::{Cell, Row};

pub struct JsonSink<W: io::Write> {
    out: W,
    options: FormatOptions,
    /// Column names, already escaped and quoted.
    keys: Vec<TextBuf>,
    rows_written: usize,
    /// JSON Lines: one object per line, no enclosing array.
    lines: bool,
    /// The current value's plain text, before escaping.
    field: TextBuf,
    /// Lines not yet written (the last one may be in progress).
    line: TextBuf,
}

impl<W: io::Write> JsonSink<W> {
    pub fn new(out: W, options: FormatOptions) -> JsonSink<W> {
        JsonSink {
            out,
            options,
            keys: Vec::new(),
            rows_written: 0,
            lines: false,
            field: TextBuf::new(),
            line: TextBuf::new(),
        }
    }

    /// A sink writing JSON Lines.
    pub fn lines(out: W, options: FormatOptions) -> JsonSink<W> {
        JsonSink {
            lines: true,
            ..JsonSink::new(out, options)
        }
    }

    /// Appends `cell` as a JSON value to the line.
    fn push_value(&mut self, cell: &Cell<'_>) {
        let out = &mut self.line;
        match cell {
            Cell::Null | Cell::Pointer(0) => out.push_str("null"),
            // JSON has no NaN or infinity.
            Cell::Float(x) if !x.is_finite() => out.push_str("null"),
            // For machines: RFC 3339 in UTC, and durations in nanoseconds.
            Cell::Timestamp(ns) => {
                out.push('"');
                super::time::push_rfc3339(out, *ns);
                out.push('"');
            }
            Cell::Duration(ns) => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("{ns}"));
            }
            Cell::Int(_)
            | Cell::UInt(_)
            | Cell::Float(_)
            | Cell::Bool(_)
            | Cell::Enum { name: None, .. } => {
                text::push_plain(out, cell, &self.options);
            }
            _ => {
                self.field.clear();
                text::push_plain(&mut self.field, cell, &self.options);
                escape::push_json(out, &self.field.text_from(0));
            }
        }
    }
}

/// `text` as a JSON string literal.
#[cfg(test)]
pub(super) fn string(text: &str) -> String {
    let mut out = TextBuf::new();
    escape::push_json(&mut out, text);
    out.into_string()
}

impl<W: io::Write> RowSink for JsonSink<W> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        self.keys = layout
            .columns
            .iter()
            .map(|c| {
                let mut key = TextBuf::new();
                escape::push_json(&mut key, &c.name);
                key
            })
            .collect();
        self.rows_written = 0;
        if self.lines {
            return Ok(());
        }
        self.out.write_all(b"[")
    }

    fn row(&mut self, row: &dyn Row) -> io::Result<()> {
        if !self.lines {
            self.line
                .push_str(if self.rows_written == 0 { "\n" } else { ",\n" });
        }
        self.line.push('{');
        for index in 0..row.cell_count().min(self.keys.len()) {
            if index > 0 {
                self.line.push(',');
            }
            self.line.push_buf(&self.keys[index]);
            self.line.push(':');
            self.push_value(&row.cell(index));
        }
        self.line.push('}');
        if self.lines {
            self.line.push('\n');
        }
        self.rows_written += 1;
        write_pending(&mut self.out, &mut self.line, false)
    }

    fn end(&mut self) -> io::Result<()> {
        write_pending(&mut self.out, &mut self.line, true)?;
        if self.lines {
            return self.out.flush();
        }
        let closing = if self.rows_written == 0 {
            "]\n"
        } else {
            "\n]\n"
        };
        self.out.write_all(closing.as_bytes())?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::string;

    #[test]
    fn escapes_everything_json_requires() {
        assert_eq!(string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(string("l1\nl2\tx\r"), r#""l1\nl2\tx\r""#);
        assert_eq!(string("\u{1}\u{1f}"), r#""\u0001\u001f""#);
        assert_eq!(string("ü→😀"), "\"ü→😀\"");
        assert_eq!(string("\u{1b}[0m\u{202e}"), r#""\u001b[0m\u202e""#);
    }
}
