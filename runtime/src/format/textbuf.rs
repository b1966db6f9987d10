//! Stage `format` (helper): the buffer formatted text is built in. Guarantees its bytes are
//! always valid UTF-8 (text is appended as `&str`, digits and hex as checked ASCII), so sinks
//! append numbers without any UTF-8 validation and write the bytes out as they are.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TextBuf(Vec<u8>);

impl TextBuf {
    pub fn new() -> TextBuf {
        TextBuf(Vec::new())
    }

    pub fn push_str(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    pub fn push(&mut self, ch: char) {
        let mut utf8 = [0u8; 4];
        self.push_str(ch.encode_utf8(&mut utf8));
    }

    /// Appends digits, hex or other ASCII in one copy; a non-ASCII byte (a caller's bug) is
    /// appended as the character of that code point, which keeps the text valid.
    pub fn push_ascii(&mut self, ascii: &[u8]) {
        if ascii.is_ascii() {
            self.0.extend_from_slice(ascii);
        } else {
            ascii.iter().for_each(|&byte| self.push(char::from(byte)));
        }
    }

    /// Appends another buffer's text.
    pub fn push_buf(&mut self, other: &TextBuf) {
        self.0.extend_from_slice(&other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Drops everything from byte `len` on (a position this buffer returned by `len`).
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes from `start` (a position returned by `len`) to the end.
    pub fn bytes_from(&self, start: usize) -> &[u8] {
        self.0.get(start..).unwrap_or_default()
    }

    /// The text from `start` on; allocates only if the bytes were not valid UTF-8, which the
    /// type rules out.
    pub fn text_from(&self, start: usize) -> Cow<'_, str> {
        String::from_utf8_lossy(self.bytes_from(start))
    }

    /// Inserts `text` at byte `at` (a position returned by `len`).
    pub fn insert_str(&mut self, at: usize, text: &str) {
        let at = at.min(self.0.len());
        self.0.splice(at..at, text.bytes());
    }

    pub fn into_string(self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push_str(text);
        Ok(())
    }
}

/// Characters in UTF-8 `bytes`: the bytes that do not continue a character.
pub fn char_count(bytes: &[u8]) -> usize {
    if bytes.is_ascii() {
        return bytes.len();
    }
    bytes.iter().filter(|&&b| b & 0xc0 != 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_keep_the_text_and_count_characters() {
        let mut buf = TextBuf::new();
        buf.push_str("ab");
        buf.push('→');
        buf.push_ascii(b"09");
        buf.push_ascii(&[0xe9]);
        buf.insert_str(2, "  ");
        assert_eq!(buf.clone().into_string(), "ab  →09é");
        assert_eq!(char_count(buf.as_bytes()), 8);
        assert_eq!(buf.text_from(4), "→09é");
    }
}
