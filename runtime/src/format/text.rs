//! Stage `format` (helper): one value as plain text, shared by every format. Guarantees
//! pointers go through the hiding rule, NULL is distinguishable (`false`), and text is appended
//! to a caller's buffer: formatting a row allocates nothing once the buffers have grown.

use std::fmt::Write;

use super::{ascii, pointer, FormatOptions, TextBuf};
use crate::decode::{vma_perms_text, Cell};

/// Appends the text of `cell` to `out`; `false` (nothing appended) for NULL, which each format
/// shows its own way.
pub(super) fn push_plain(out: &mut TextBuf, cell: &Cell<'_>, options: &FormatOptions) -> bool {
    let mut scratch: ascii::Scratch = [0; 40];
    match ascii::quick_text(cell, &mut scratch) {
        Some(text) => {
            out.push_ascii(text);
            true
        }
        None => push_slow(out, cell, options),
    }
}

/// `push_plain` for a cell `ascii::quick_text` gave no text for (callers that tried the quick
/// path already call this directly rather than trying it twice).
pub(super) fn push_slow(out: &mut TextBuf, cell: &Cell<'_>, options: &FormatOptions) -> bool {
    match cell {
        // A NULL pointer is NULL, shown as each format shows NULL (never `0`).
        Cell::Null | Cell::Pointer(0) => return false,
        Cell::Float(x) => push_float(out, *x),
        Cell::Text(text) => out.push_str(text),
        Cell::Enum {
            name: Some(name), ..
        } => out.push_str(name),
        Cell::Pointer(address) => pointer::push_pointer(out, *address, options),
        Cell::Bytes { bytes, pointers } => pointer::push_bytes(out, bytes, pointers, options),
        Cell::VmaPerms(bits) => vma_perms_text(*bits).into_iter().for_each(|c| out.push(c)),
        Cell::Timestamp(ns) => super::time::push_local(out, *ns),
        Cell::Duration(ns) => out.push_str(&super::time::duration_text(*ns)),
        // Numbers, booleans and addresses always have quick text.
        Cell::Int(_)
        | Cell::UInt(_)
        | Cell::Bool(_)
        | Cell::Enum { name: None, .. }
        | Cell::Ipv4(_)
        | Cell::Ipv6(_) => return push_plain(out, cell, options),
    }
    true
}

/// A float as the shortest text that reads back to the same value, always with a decimal
/// point when finite (`2.0`, `0.5`, `1234.5678`), so it never looks like an integer column.
pub(super) fn push_float(out: &mut TextBuf, x: f64) {
    let start = out.len();
    // Writing into a TextBuf cannot fail.
    let _ = write!(out, "{x}");
    if x.is_finite() && !out.bytes_from(start).contains(&b'.') {
        out.push_str(".0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(cell: Cell<'_>) -> Option<String> {
        let mut out = TextBuf::new();
        push_plain(&mut out, &cell, &FormatOptions::default()).then(|| out.into_string())
    }

    #[test]
    fn integers_match_the_standard_formatting_at_the_edges() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(text_of(Cell::UInt(n)), Some(n.to_string()));
        }
        for n in [0, -1, -9, -10, 12345, i64::MIN, i64::MIN + 1, i64::MAX] {
            assert_eq!(text_of(Cell::Int(n)), Some(n.to_string()));
        }
    }

    #[test]
    fn floats_always_show_a_point_when_finite() {
        assert_eq!(text_of(Cell::Float(2.0)).as_deref(), Some("2.0"));
        assert_eq!(text_of(Cell::Float(0.5)).as_deref(), Some("0.5"));
        assert_eq!(text_of(Cell::Float(f64::NAN)).as_deref(), Some("NaN"));
        assert_eq!(text_of(Cell::Float(f64::INFINITY)).as_deref(), Some("inf"));
    }

    #[test]
    fn null_appends_nothing_and_other_kinds_read_naturally() {
        assert_eq!(text_of(Cell::Null), None);
        assert_eq!(text_of(Cell::Pointer(0)), None);
        assert_eq!(
            text_of(Cell::Bytes {
                bytes: &[0xde, 0x0a],
                pointers: &[]
            })
            .as_deref(),
            Some("de0a")
        );
        assert_eq!(text_of(Cell::VmaPerms(0x85)).as_deref(), Some("r-xs"));
        for octets in [
            [10, 0, 0, 1],
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [127, 8, 99, 100],
        ] {
            let address = std::net::Ipv4Addr::from(octets);
            assert_eq!(text_of(Cell::Ipv4(address)), Some(address.to_string()));
        }
    }
}
