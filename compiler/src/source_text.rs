//! Source bytes -> source text, for every query file, module and stdlib file bpfq reads.
//! Guarantees a leading UTF-8 byte order mark is dropped (spans then count from the text after
//! it) and bytes that are not UTF-8 are E0020 at the first bad byte (line, column and byte
//! offset), shown in a copy of the text with that byte replaced, never raw.

use crate::codes;
use crate::diagnostic::{Diagnostic, Sources, Span};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// The text of `bytes` read from `name`; on invalid UTF-8 the diagnostic points into a lossy
/// copy added to `sources`.
pub fn source_text(
    mut bytes: Vec<u8>,
    name: &str,
    sources: &mut Sources,
) -> Result<String, Diagnostic> {
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
            // The valid prefix is unchanged by the lossy copy: the offset holds there too.
            let file = sources.add(name, String::from_utf8_lossy(bytes).into_owned());
            Err(Diagnostic::error(
                codes::SOURCE_NOT_UTF8,
                format!(
                    "{name} is not UTF-8: byte 0x{bad:02x} at line {line}, column {column} \
                     (byte offset {offset})"
                ),
            )
            .with_primary(
                Span::new(file, offset, offset + '\u{fffd}'.len_utf8()),
                "not UTF-8 (shown as \u{fffd})",
            )
            .with_note("help: save the file as UTF-8"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped_and_bad_bytes_are_placed() {
        let mut sources = Sources::new();
        let text = source_text(b"\xef\xbb\xbffrom task".to_vec(), "q.bpfq", &mut sources);
        assert_eq!(text.as_deref(), Ok("from task"));
        let bad = b"from task\nselect p\xffid".to_vec();
        let diag = source_text(bad, "q.bpfq", &mut sources).unwrap_err();
        assert_eq!(diag.code, codes::SOURCE_NOT_UTF8);
        assert_eq!(
            diag.message,
            "q.bpfq is not UTF-8: byte 0xff at line 2, column 9 (byte offset 18)"
        );
        assert!(!diag.render(&sources).contains('\u{ff}'));
    }
}
