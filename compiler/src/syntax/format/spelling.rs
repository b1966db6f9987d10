//! Token spelling for the formatter (stage: fmt): names backquoted exactly when the grammar
//! needs it, strings escaped so they decode to the same text, integers as written (their
//! radix is the author's choice) with a lowercase `0x`/`0b`.

use crate::syntax::literal::decode_integer;

/// The grammar's reserved words (grammar/bpfq.pest `reserved`): names only when backquoted.
const RESERVED: [&str; 24] = [
    "from", "select", "where", "group", "by", "having", "order", "limit", "join", "on", "as",
    "and", "or", "not", "like", "in", "is", "null", "true", "false", "asc", "desc", "distinct",
    "cast",
];

fn is_word(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_reserved(name: &str) -> bool {
    RESERVED.iter().any(|word| word.eq_ignore_ascii_case(name))
}

/// A name where the grammar wants an `ident` (reserved words need backquotes).
pub fn ident(name: &str) -> String {
    if is_word(name) && !is_reserved(name) {
        name.to_string()
    } else {
        format!("`{name}`")
    }
}

/// A name after `.` or in a column or parameter name (`field_name`: keywords are fine).
pub fn field(name: &str) -> String {
    if is_word(name) {
        name.to_string()
    } else {
        format!("`{name}`")
    }
}

/// A string literal that decodes back to `value`.
pub fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An integer literal: its source text when that reads back as `value`, else decimal.
pub fn integer(written: Option<&str>, value: u64) -> String {
    match written {
        Some(text) if decode_integer(text, 0, 0) == Ok(value) => {
            let lower_prefix = text.get(..2).map(str::to_ascii_lowercase);
            match lower_prefix.as_deref() {
                Some("0x") | Some("0b") => {
                    format!("{}{}", lower_prefix.unwrap_or_default(), &text[2..])
                }
                _ => text.to_string(),
            }
        }
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::literal::decode_string;

    #[test]
    fn names_are_backquoted_only_when_needed() {
        assert_eq!(ident("pid"), "pid");
        assert_eq!(ident("Order"), "`Order`");
        assert_eq!(ident("two words"), "`two words`");
        assert_eq!(ident("count"), "count");
        assert_eq!(field("order"), "order");
        assert_eq!(field("9lives"), "`9lives`");
    }

    #[test]
    fn strings_decode_to_what_they_encode() {
        for value in [
            "plain",
            "q\"b\\s",
            "nl\ntab\tnul\0",
            "\r\x7f\x01",
            "é ü -- x",
        ] {
            let literal = string(value);
            let body = &literal[1..literal.len() - 1];
            assert_eq!(decode_string(body, 0, 1).as_deref(), Ok(value), "{literal}");
        }
    }

    #[test]
    fn integers_keep_their_radix() {
        assert_eq!(integer(Some("0XFF"), 255), "0xFF");
        assert_eq!(integer(Some("1_000"), 1000), "1_000");
        assert_eq!(integer(Some("7"), 8), "8");
        assert_eq!(integer(None, 8), "8");
    }
}
