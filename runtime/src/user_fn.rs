//! Stage `user part`: the value of each function computed in user space
//! (`bpfq_compiler::scalar_fn::UserFn`) from its arguments' values. Guarantees NULL in, NULL
//! out (but `coalesce`, which chooses the first non-NULL), text counted and cut by characters,
//! never bytes, and no kernel address made into text (the binder refuses pointer arguments).

use bpfq_compiler::scalar_fn::UserFn;

use crate::decode::Value;
use crate::format::time::duration_text;

/// `func(args)`; NULL for arguments of the wrong kind (a malformed plan).
pub fn value(func: UserFn, args: &[Value]) -> Value {
    if func == UserFn::Coalesce {
        return args
            .iter()
            .find(|v| **v != Value::Null)
            .cloned()
            .unwrap_or(Value::Null);
    }
    if args.contains(&Value::Null) {
        return Value::Null;
    }
    let text = |at: usize| args.get(at).and_then(text_of);
    let int = |at: usize| args.get(at).and_then(Value::as_integer);
    let computed = match func {
        UserFn::Upper => text(0).map(|t| Value::Text(t.to_ascii_uppercase())),
        UserFn::Lower => text(0).map(|t| Value::Text(t.to_ascii_lowercase())),
        UserFn::Length => text(0).map(|t| Value::UInt(t.chars().count() as u64)),
        UserFn::Substr => text(0).zip(int(1)).map(|(t, start)| {
            Value::Text(substr(&t, start, args.get(2).map(|_| int(2).unwrap_or(0))))
        }),
        UserFn::Concat => args
            .iter()
            .map(text_of)
            .collect::<Option<String>>()
            .map(Value::Text),
        UserFn::Hex => int(0).map(|n| Value::Text(format!("{:#x}", n as u64))),
        UserFn::FormatBytes => int(0).map(|n| Value::Text(format_bytes(n))),
        UserFn::FormatDuration => int(0).map(|n| Value::Text(duration_text(n as i64))),
        UserFn::Now => Some(Value::Timestamp(crate::clock::now_ns())),
        UserFn::Coalesce => None,
    };
    computed.unwrap_or(Value::Null)
}

/// A value as the text a table shows of it (integers in decimal, times as a table shows
/// them); None for a kernel address or raw bytes.
fn text_of(value: &Value) -> Option<String> {
    Some(match value {
        Value::Text(t) => t.clone(),
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Enum {
            name: Some(name), ..
        } => name.clone(),
        Value::Enum { value, name: None } => value.to_string(),
        Value::Duration(ns) => duration_text(*ns),
        Value::Timestamp(ns) => {
            let mut out = crate::format::TextBuf::new();
            crate::format::time::push_local(&mut out, *ns);
            out.into_string()
        }
        Value::Null | Value::Pointer(_) | Value::Bytes { .. } => return None,
    })
}

/// SQL's `substring(text from start for length)` by characters: the first is 1; positions
/// before it count against `length`; without `length`, to the end.
fn substr(text: &str, start: i128, length: Option<i128>) -> String {
    let end = length.map(|len| start.saturating_add(len.max(0)));
    text.chars()
        .enumerate()
        .filter(|(at, _)| {
            let position = *at as i128 + 1;
            position >= start && end.is_none_or(|end| position < end)
        })
        .map(|(_, c)| c)
        .collect()
}

/// A size in bytes as `ls -h` writes it: powers of 1024 (K, M, G, T, P, E), rounded up, one
/// decimal below 10 (`1.5K`, `12M`); plain bytes below 1024; negative sizes with a `-`.
fn format_bytes(n: i128) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let bytes = n.unsigned_abs();
    if bytes < 1024 {
        return format!("{sign}{bytes}");
    }
    let mut unit = 1u128;
    let mut suffix = ' ';
    for next in ['K', 'M', 'G', 'T', 'P', 'E'] {
        if bytes < unit * 1024 {
            break;
        }
        unit *= 1024;
        suffix = next;
    }
    // In tenths, rounded up as ls does; below 10 units one decimal is shown.
    let tenths = (bytes * 10).div_ceil(unit);
    if tenths < 100 {
        format!("{sign}{}.{}{suffix}", tenths / 10, tenths % 10)
    } else {
        format!("{sign}{}{suffix}", bytes.div_ceil(unit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn text_functions_work_by_characters() {
        assert_eq!(value(UserFn::Upper, &[text("bash-é")]), text("BASH-é"));
        assert_eq!(value(UserFn::Lower, &[text("SSHD")]), text("sshd"));
        assert_eq!(value(UserFn::Length, &[text("héllo")]), Value::UInt(5));
        let sub = |args: &[Value]| value(UserFn::Substr, args);
        assert_eq!(sub(&[text("kworker"), Value::Int(2)]), text("worker"));
        assert_eq!(
            sub(&[text("kworker"), Value::Int(1), Value::Int(3)]),
            text("kwo")
        );
        assert_eq!(
            sub(&[text("kworker"), Value::Int(0), Value::Int(3)]),
            text("kw")
        );
        assert_eq!(
            sub(&[text("héllo"), Value::Int(2), Value::Int(2)]),
            text("él")
        );
        assert_eq!(
            value(UserFn::Concat, &[text("a"), Value::UInt(7), text("b")]),
            text("a7b")
        );
    }

    #[test]
    fn null_in_null_out_but_coalesce_chooses() {
        assert_eq!(value(UserFn::Upper, &[Value::Null]), Value::Null);
        assert_eq!(
            value(UserFn::Concat, &[text("a"), Value::Null]),
            Value::Null
        );
        assert_eq!(
            value(
                UserFn::Coalesce,
                &[Value::Null, Value::UInt(3), Value::UInt(4)]
            ),
            Value::UInt(3)
        );
        assert_eq!(value(UserFn::Coalesce, &[Value::Null]), Value::Null);
    }

    #[test]
    fn numbers_as_hex_and_sizes_as_ls_shows_them() {
        assert_eq!(value(UserFn::Hex, &[Value::UInt(255)]), text("0xff"));
        assert_eq!(
            value(UserFn::Hex, &[Value::Int(-1)]),
            text("0xffffffffffffffff")
        );
        let cases = [
            (0, "0"),
            (1023, "1023"),
            (1024, "1.0K"),
            (1025, "1.1K"),
            (1536, "1.5K"),
            (10 * 1024, "10K"),
            (10 * 1024 + 1, "11K"),
            (1_258_291, "1.2M"),
            (3 << 30, "3.0G"),
            (-2048, "-2.0K"),
        ];
        for (n, shown) in cases {
            assert_eq!(format_bytes(n), shown, "{n}");
        }
    }
}
