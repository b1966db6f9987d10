//! Stage `format` (helper): how each format family spells the characters that never reach a
//! reader raw (`bpfq_compiler::hidden`: C0, DEL, C1 and the bidi controls). Guarantees that no
//! such character survives `push_text` (table, TSV, CSV) or `push_json` unescaped, and that
//! text without one is copied as it is.

use std::fmt::Write;

use bpfq_compiler::hidden::{has_hidden, is_hidden, write_visible};

use super::TextBuf;

/// What a backslash in the text becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backslash {
    /// Kept as it is (the table, read by people): an escape there can be ambiguous.
    Literal,
    /// Doubled (TSV and CSV, read by programs): every escape reads back to one character.
    Doubled,
}

/// Whether UTF-8 `text` holds a character `push_text` changes.
pub(super) fn needs_escaping(text: &[u8], backslash: Backslash) -> bool {
    has_hidden(text) || (backslash == Backslash::Doubled && text.contains(&b'\\'))
}

/// Appends `text` with every hidden character visible: `\t`, `\n`, `\r`, `\xNN` below U+0100,
/// `\u{NNNN}` above (`\x1b`, `\u{202e}`); a backslash as `backslash` says.
pub(super) fn push_text(out: &mut TextBuf, text: &str, backslash: Backslash) {
    if !needs_escaping(text.as_bytes(), backslash) {
        out.push_str(text);
        return;
    }
    for ch in text.chars() {
        match ch {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' if backslash == Backslash::Doubled => out.push_str("\\\\"),
            // Writing into a TextBuf cannot fail.
            hidden if is_hidden(hidden) => {
                let _ = write_visible(out, hidden);
            }
            other => out.push(other),
        }
    }
}

/// Whether `text` needs more than quotes around it as a JSON string.
fn json_needs_escaping(text: &[u8]) -> bool {
    text.iter().any(|&b| b == b'"' || b == b'\\') || needs_escaping(text, Backslash::Literal)
}

/// Appends `text` as a JSON string literal: quotes and backslashes escaped, every hidden
/// character as `\uNNNN` (the short forms for the usual ones), everything else as it is.
pub(super) fn push_json(out: &mut TextBuf, text: &str) {
    out.push('"');
    if !json_needs_escaping(text.as_bytes()) {
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
            hidden if is_hidden(hidden) => {
                // Every hidden character is in the Basic Multilingual Plane: one \u escape.
                let _ = write!(out, "\\u{:04x}", u32::from(hidden));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(input: &str, backslash: Backslash) -> String {
        let mut out = TextBuf::new();
        push_text(&mut out, input, backslash);
        out.into_string()
    }

    fn json(input: &str) -> String {
        let mut out = TextBuf::new();
        push_json(&mut out, input);
        out.into_string()
    }

    /// One of each kind of character that must not reach a terminal raw.
    const HIDDEN: &str =
        "\u{0}\u{1b}\u{7f}\u{85}\u{9b}\u{61c}\u{200e}\u{200f}\u{202a}\u{202e}\u{2066}\u{2069}";

    #[test]
    fn every_hidden_character_is_spelled_visibly() {
        let expected = "\\x00\\x1b\\x7f\\x85\\x9b\\u{061c}\\u{200e}\\u{200f}\\u{202a}\\u{202e}\
                        \\u{2066}\\u{2069}";
        assert_eq!(text(HIDDEN, Backslash::Literal), expected);
        assert_eq!(
            json(HIDDEN),
            "\"\\u0000\\u001b\\u007f\\u0085\\u009b\\u061c\\u200e\\u200f\\u202a\\u202e\\u2066\
             \\u2069\""
        );
    }

    #[test]
    fn backslashes_are_doubled_only_where_escapes_must_read_back() {
        assert_eq!(text("a\\x1b\tb", Backslash::Literal), "a\\x1b\\tb");
        assert_eq!(text("a\\x1b\tb", Backslash::Doubled), "a\\\\x1b\\tb");
        assert_eq!(text("a\\b", Backslash::Literal), "a\\b");
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for plain in ["sshd", "ü→😀", "\u{2028}x", "\u{200d}", "€ (E2 82 AC)"] {
            assert_eq!(text(plain, Backslash::Doubled), plain);
            assert_eq!(json(plain), format!("\"{plain}\""));
        }
        assert_eq!(json("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json("l1\nl2\tx\r\u{8}\u{c}"), r#""l1\nl2\tx\r\b\f""#);
    }
}
