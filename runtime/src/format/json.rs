//! Stage `format`: rows as one JSON array of objects (keys = column names). Guarantees valid
//! JSON for any text (own escaper: quotes, backslashes, control characters), numbers as JSON
//! numbers, NULL as `null`; pointers and bytes as strings. Streams one object per line, built in
//! a reused buffer (no allocation per row); in JSON Lines mode (`-o jsonl`) each line is a
//! complete document and there is no array.

use std::fmt::Write;
use std::io;

use bpfq_compiler::layout::RowLayout;

use super::{text, write_pending, FormatOptions, RowSink, TextBuf};
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
                push_string_buf(out, &self.field);
            }
        }
    }
}

/// `text` as a JSON string literal.
#[cfg(test)]
pub(super) fn string(text: &str) -> String {
    let mut out = TextBuf::new();
    push_string(&mut out, text);
    out.into_string()
}

/// Appends the text of `buf` as a JSON string literal; without anything to escape (the usual
/// value) its bytes are copied as they are.
fn push_string_buf(out: &mut TextBuf, buf: &TextBuf) {
    if needs_escaping(buf.as_bytes()) {
        push_string(out, &buf.text_from(0));
    } else {
        out.push('"');
        out.push_buf(buf);
        out.push('"');
    }
}

fn needs_escaping(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `text` as a JSON string literal.
pub(super) fn push_string(out: &mut TextBuf, text: &str) {
    out.push('"');
    if !needs_escaping(text.as_bytes()) {
        out.push_str(text);
        out.push('"');
        return;
    }
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            control if u32::from(control) < 0x20 => {
                // Writing into a TextBuf cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

impl<W: io::Write> RowSink for JsonSink<W> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        self.keys = layout
            .columns
            .iter()
            .map(|c| {
                let mut key = TextBuf::new();
                push_string(&mut key, &c.name);
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
    }
}
