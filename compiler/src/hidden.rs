//! Which characters never reach a terminal raw, and their one visible spelling. Guarantees a
//! single list — C0 controls, DEL, C1 controls and the Unicode bidi/format controls that
//! reorder or hide the text around them (U+061C, U+200E/F, U+202A-E, U+2066-9) — shared by the
//! output formats (`runtime/src/format/escape.rs`) and the source snippets of diagnostics.

use std::fmt;

/// Whether `ch` must never be written raw.
pub fn is_hidden(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Whether UTF-8 `text` holds a hidden character.
pub fn has_hidden(text: &[u8]) -> bool {
    // The lead bytes of every hidden character: C0 and DEL are below 0x20 or 0x7f, C1 is
    // 0xc2 0x80-0x9f, U+061C is 0xd8 0x9c, the others start with 0xe2. Text without any of
    // these bytes (nearly all text) is not decoded.
    text.iter()
        .any(|&b| b < 0x20 || matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2))
        && String::from_utf8_lossy(text).chars().any(is_hidden)
}

/// Whether `ch` may not appear in a line of text a diagnostic shows (a hidden character other
/// than the line feed).
pub fn is_hidden_in_line(ch: char) -> bool {
    is_hidden(ch) && ch != '\n'
}

/// Writes hidden `ch` visibly: `\xNN` below U+0100 (`\x1b`), `\u{NNNN}` above (`\u{202e}`).
pub fn write_visible(out: &mut impl fmt::Write, ch: char) -> fmt::Result {
    let code = u32::from(ch);
    if code < 0x100 {
        write!(out, "\\x{code:02x}")
    } else {
        write!(out, "\\u{{{code:04x}}}")
    }
}

/// Hidden `ch` written visibly, as a string.
pub fn visible(ch: char) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_visible(&mut out, ch);
    out
}

/// `text` with every hidden character but line feeds, the CR of a CRLF and tabs written visibly
/// (for text a diagnostic shows: line structure and indentation stay).
pub fn visible_lines(text: &str) -> std::borrow::Cow<'_, str> {
    let shown = |ch: char, next: Option<char>| {
        !is_hidden(ch) || ch == '\n' || ch == '\t' || (ch == '\r' && next == Some('\n'))
    };
    let mut chars = text.chars().peekable();
    let mut clean = true;
    while let Some(ch) = chars.next() {
        clean &= shown(ch, chars.peek().copied());
    }
    if clean {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        if !shown(ch, chars.peek().copied()) {
            out.push_str(&visible(ch));
        } else {
            out.push(ch);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_spelled_visibly_and_lines_kept() {
        assert_eq!(
            visible_lines("a\0b\n\tc\u{1b}[0m\u{202e}\rx\r\n"),
            "a\\x00b\n\tc\\x1b[0m\\u{202e}\\x0dx\r\n"
        );
        assert_eq!(visible_lines("plain ü"), "plain ü");
        assert!(!is_hidden('\u{200d}') && is_hidden('\u{85}') && is_hidden('\u{7f}'));
    }
}
