//! Stage `format` (helper): one value as plain text, shared by the table and CSV formats.
//! Guarantees pointers go through the hiding rule and NULL is distinguishable (`None`).

use std::fmt::Write;

use super::{pointer, FormatOptions};
use crate::decode::Value;

/// The text of `value`, or `None` for NULL (each format shows NULL its own way).
pub(super) fn plain(value: &Value, options: &FormatOptions) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::Float(x) => float(*x),
        Value::Bool(b) => b.to_string(),
        Value::Text(text) => text.clone(),
        Value::Enum {
            name: Some(name), ..
        } => name.clone(),
        Value::Enum { value, name: None } => value.to_string(),
        Value::Pointer(address) => pointer_text(*address, options),
        Value::Bytes(bytes) => hex(bytes),
    })
}

/// A float as the shortest text that reads back to the same value, always with a decimal
/// point when finite (`2.0`, `0.5`, `1234.5678`), so it never looks like an integer column.
pub(super) fn float(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let text = x.to_string();
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

pub(super) fn pointer_text(address: u64, options: &FormatOptions) -> String {
    if options.show_kptrs {
        pointer::show(address)
    } else {
        options.pointer_key.hide(address)
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing into a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}
