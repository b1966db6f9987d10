//! Literal decoding (stage: parse): integer and string literal text -> values, with
//! errors that point at the offending characters. Input is text the grammar accepted.

use crate::codes;
use crate::diagnostic::{Diagnostic, FileId, Span};

/// Decode `123`, `1_000`, `0xff`, `0b1010` (the grammar guarantees the digit set).
/// `start` is the literal's byte offset in its file.
pub fn decode_integer(text: &str, file: FileId, start: usize) -> Result<u64, Diagnostic> {
    let span = Span::new(file, start, start + text.len());
    let lower = text.to_ascii_lowercase();
    let (digits, radix) = if let Some(rest) = lower.strip_prefix("0x") {
        (rest, 16)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (rest, 2)
    } else {
        (lower.as_str(), 10)
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() {
        return Err(
            Diagnostic::error(codes::PARSE_BAD_INTEGER, format!("`{text}` has no digits"))
                .with_primary(span, "expected digits after the prefix"),
        );
    }
    u64::from_str_radix(&digits, radix).map_err(|_| {
        Diagnostic::error(codes::PARSE_INT_TOO_LARGE, "integer literal is too large")
            .with_primary(span, "this does not fit in 64 bits")
            .with_note(format!(
                "the largest integer is {} (0x{:x})",
                u64::MAX,
                u64::MAX
            ))
    })
}

/// Decode the body of a string literal (between the quotes). `start` is the byte
/// offset of the body in its file. Escapes: `\\ \" \n \t \0 \xNN`.
pub fn decode_string(body: &str, file: FileId, start: usize) -> Result<String, Diagnostic> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = chars.next();
        let decoded = match escaped {
            Some((_, '\\')) => Some('\\'),
            Some((_, '"')) => Some('"'),
            Some((_, 'n')) => Some('\n'),
            Some((_, 't')) => Some('\t'),
            Some((_, '0')) => Some('\0'),
            Some((_, 'x')) => {
                let high = chars.next();
                let low = chars.next();
                match (high, low) {
                    (Some((_, h)), Some((_, l))) => hex_byte(h, l),
                    _ => None,
                }
            }
            _ => None,
        };
        match decoded {
            Some(c) => out.push(c),
            None => {
                let end = chars.peek().map_or(body.len(), |&(next, _)| next);
                let shown = body.get(offset..end).unwrap_or("\\");
                return Err(Diagnostic::error(
                    codes::PARSE_BAD_ESCAPE,
                    format!("unknown escape `{shown}` in string"),
                )
                .with_primary(Span::new(file, start + offset, start + end), "not a valid escape")
                .with_note(
                    "help: valid escapes are \\\\ \\\" \\n \\t \\0 and \\xNN (two hex digits, below \\x80)",
                ));
            }
        }
    }
    Ok(out)
}

/// `\xNN` gives one character; only ASCII keeps strings valid UTF-8.
fn hex_byte(high: char, low: char) -> Option<char> {
    let value = high.to_digit(16)? * 16 + low.to_digit(16)?;
    if value < 0x80 {
        char::from_u32(value)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_radix() {
        assert_eq!(decode_integer("1_000", 0, 0), Ok(1000));
        assert_eq!(decode_integer("0xFF", 0, 0), Ok(255));
        assert_eq!(decode_integer("0b1010", 0, 0), Ok(10));
        assert_eq!(decode_integer("18446744073709551615", 0, 0), Ok(u64::MAX));
        let too_big = decode_integer("18446744073709551616", 0, 4).unwrap_err();
        assert_eq!(too_big.code, codes::PARSE_INT_TOO_LARGE);
        assert_eq!(too_big.primary_span(), Some(Span::new(0, 4, 24)));
        assert_eq!(
            decode_integer("0x_", 0, 0).unwrap_err().code,
            codes::PARSE_BAD_INTEGER
        );
    }

    #[test]
    fn strings_with_escapes() {
        assert_eq!(
            decode_string(r#"a\"b\\c\n\t\0\x41"#, 0, 0).as_deref(),
            Ok("a\"b\\c\n\t\0A")
        );
        let bad = decode_string(r"ab\qc", 0, 10).unwrap_err();
        assert_eq!(bad.code, codes::PARSE_BAD_ESCAPE);
        assert_eq!(bad.primary_span(), Some(Span::new(0, 12, 14)));
        assert_eq!(
            decode_string(r"\xZZ", 0, 0).unwrap_err().code,
            codes::PARSE_BAD_ESCAPE
        );
        assert_eq!(
            decode_string(r"\xff", 0, 0).unwrap_err().code,
            codes::PARSE_BAD_ESCAPE
        );
        assert_eq!(
            decode_string(r"\x4", 0, 0).unwrap_err().code,
            codes::PARSE_BAD_ESCAPE
        );
    }
}
