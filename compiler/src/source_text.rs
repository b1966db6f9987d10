//! Source bytes -> source text, for every query file, module and stdlib file bpfq reads.
//! Guarantees a leading UTF-8 byte order mark is dropped (spans then count from the text after
//! it) and bytes that are not UTF-8 are E0020 at the first bad byte (line, column and byte
//! offset), named but never quoted (the file may not be query text at all: a secret, a binary).

use crate::codes;
use crate::diagnostic::Diagnostic;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// The text of `bytes` read from `name`; on invalid UTF-8 a diagnostic that places the first bad
/// byte without showing any of the file.
pub fn source_text(mut bytes: Vec<u8>, name: &str) -> Result<String, Diagnostic> {
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(error) => {
            let bytes = error.as_bytes();
            let offset = error.utf8_error().valid_up_to();
            let before = String::from_utf8_lossy(&bytes[..offset]);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let bad = bytes[offset];
            Err(Diagnostic::error(
                codes::SOURCE_NOT_UTF8,
                format!(
                    "{name} is not UTF-8: byte 0x{bad:02x} at line {line}, column {column} \
                     (byte offset {offset})"
                ),
            )
            .with_note("its bytes are not shown: it may not be a query file at all")
            .with_note("help: check the path, and save a query file as UTF-8"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped_and_bad_bytes_are_placed() {
        let text = source_text(b"\xef\xbb\xbffrom task".to_vec(), "q.bpfq");
        assert_eq!(text.as_deref(), Ok("from task"));
        let bad = b"from task\nselect p\xffid".to_vec();
        let diag = source_text(bad, "q.bpfq").unwrap_err();
        assert_eq!(diag.code, codes::SOURCE_NOT_UTF8);
        assert_eq!(
            diag.message,
            "q.bpfq is not UTF-8: byte 0xff at line 2, column 9 (byte offset 18)"
        );
        assert!(!diag
            .render(&crate::diagnostic::Sources::new())
            .contains("id"));
    }
}
