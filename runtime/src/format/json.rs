//! Stage `format`: rows as one JSON array of objects (keys = column names). Guarantees valid
//! JSON for any text (own escaper: quotes, backslashes, control characters), numbers as JSON
//! numbers, NULL as `null`; pointers and bytes as strings. Streams one object per line; in
//! JSON Lines mode (`-o jsonl`) each line is a complete document and there is no array.

use std::io;

use bpfq_compiler::layout::RowLayout;

use super::{text, FormatOptions, RowSink};
use crate::decode::Value;

pub struct JsonSink<W: io::Write> {
    out: W,
    options: FormatOptions,
    /// Column names, already escaped and quoted.
    keys: Vec<String>,
    rows_written: usize,
    /// JSON Lines: one object per line, no enclosing array.
    lines: bool,
}

impl<W: io::Write> JsonSink<W> {
    pub fn new(out: W, options: FormatOptions) -> JsonSink<W> {
        JsonSink {
            out,
            options,
            keys: Vec::new(),
            rows_written: 0,
            lines: false,
        }
    }

    /// A sink writing JSON Lines.
    pub fn lines(out: W, options: FormatOptions) -> JsonSink<W> {
        JsonSink {
            lines: true,
            ..JsonSink::new(out, options)
        }
    }

    fn value_json(&self, value: &Value) -> String {
        match value {
            Value::Null => "null".to_string(),
            Value::Int(n) => n.to_string(),
            Value::UInt(n) => n.to_string(),
            // JSON has no NaN or infinity.
            Value::Float(x) if !x.is_finite() => "null".to_string(),
            Value::Float(x) => text::float(*x),
            Value::Bool(b) => b.to_string(),
            Value::Text(text) => string(text),
            Value::Enum {
                name: Some(name), ..
            } => string(name),
            Value::Enum { value, name: None } => value.to_string(),
            Value::Pointer(0) => "null".to_string(),
            Value::Pointer(address) => string(&text::pointer_text(*address, &self.options)),
            Value::Bytes(bytes) => string(&text::hex(bytes)),
        }
    }
}

/// `text` as a JSON string literal.
pub(super) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
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
                out.push_str(&format!("\\u{:04x}", u32::from(control)));
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

impl<W: io::Write> RowSink for JsonSink<W> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        self.keys = layout.columns.iter().map(|c| string(&c.name)).collect();
        self.rows_written = 0;
        if self.lines {
            return Ok(());
        }
        self.out.write_all(b"[")
    }

    fn row(&mut self, values: &[Value]) -> io::Result<()> {
        let members: Vec<String> = self
            .keys
            .iter()
            .zip(values)
            .map(|(key, value)| format!("{key}:{}", self.value_json(value)))
            .collect();
        if self.lines {
            self.rows_written += 1;
            return writeln!(self.out, "{{{}}}", members.join(","));
        }
        let separator = if self.rows_written == 0 { "\n" } else { ",\n" };
        self.rows_written += 1;
        write!(self.out, "{separator}{{{}}}", members.join(","))
    }

    fn end(&mut self) -> io::Result<()> {
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
