//! BTF header stage: checks magic, version and section bounds of a blob, so later stages may index the sections without re-checking them.

use super::BtfError;

const MAGIC: u16 = 0xeb9f;
const FIXED_HEADER_LEN: usize = 24;

/// Absolute byte ranges of the two sections plus the byte order of the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub big_endian: bool,
    pub types_start: usize,
    pub types_end: usize,
    pub strings_start: usize,
    pub strings_end: usize,
}

/// Reads a u32 in the blob's byte order; `None` past the end (callers turn that into an error).
pub(crate) fn read_u32(bytes: &[u8], pos: usize, big_endian: bool) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

/// The byte order the first two bytes (the magic) announce, or `BadMagic`: the one check a
/// decompressor can make before the rest of the blob exists.
pub(crate) fn byte_order(magic: [u8; 2]) -> Result<bool, BtfError> {
    if magic == MAGIC.to_le_bytes() {
        Ok(false)
    } else if magic == MAGIC.to_be_bytes() {
        Ok(true)
    } else {
        Err(BtfError::BadMagic(u16::from_le_bytes(magic)))
    }
}

pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header, BtfError> {
    if bytes.len() < FIXED_HEADER_LEN {
        return Err(BtfError::TruncatedHeader { len: bytes.len() });
    }
    let big_endian = byte_order([bytes[0], bytes[1]])?;
    if bytes[2] != 1 {
        return Err(BtfError::UnsupportedVersion(bytes[2]));
    }
    // No flag is defined: the kernel refuses any (btf_parse_hdr), so a set one means the blob
    // is not what this reader understands.
    if bytes[3] != 0 {
        return Err(BtfError::BadHeader(format!(
            "flags {:#04x} set (no BTF flag is defined)",
            bytes[3]
        )));
    }
    let field = |pos: usize| read_u32(bytes, pos, big_endian).unwrap_or(0) as usize;
    let header_len = field(4);
    if header_len < FIXED_HEADER_LEN {
        return Err(BtfError::BadHeader(format!(
            "header length {header_len} is smaller than {FIXED_HEADER_LEN}"
        )));
    }
    if header_len > bytes.len() {
        return Err(BtfError::SectionOutOfBounds {
            section: "header",
            offset: 0,
            len: header_len as u64,
            available: bytes.len() as u64,
        });
    }
    // A longer header carries fields this reader does not know; the kernel only accepts them when zero.
    if bytes[FIXED_HEADER_LEN..header_len].iter().any(|&b| b != 0) {
        return Err(BtfError::BadHeader(
            "unknown non-zero fields after the 24-byte header".to_string(),
        ));
    }
    let (types_start, types_end) = section(bytes, "type", header_len, field(8), field(12))?;
    let (strings_start, strings_end) = section(bytes, "string", header_len, field(16), field(20))?;
    if types_end > strings_start && strings_end > types_start {
        return Err(BtfError::BadHeader(
            "type and string sections overlap".to_string(),
        ));
    }
    // Base BTF starts its strings with the empty name; split BTF continues a base's string table.
    if strings_start == strings_end || bytes[strings_start] != 0 {
        return Err(BtfError::SplitBtfUnsupported);
    }
    // Every name ends with a NUL, the last one at the section's end (the kernel refuses the
    // blob otherwise): a name read from the last offset must not run past the section.
    if bytes[strings_end - 1] != 0 {
        return Err(BtfError::BadHeader(
            "the string section does not end with a NUL byte".to_string(),
        ));
    }
    Ok(Header {
        big_endian,
        types_start,
        types_end,
        strings_start,
        strings_end,
    })
}

fn section(
    bytes: &[u8],
    name: &'static str,
    header_len: usize,
    offset: usize,
    len: usize,
) -> Result<(usize, usize), BtfError> {
    let out_of_bounds = || BtfError::SectionOutOfBounds {
        section: name,
        offset: (header_len + offset) as u64,
        len: len as u64,
        available: bytes.len() as u64,
    };
    let start = header_len.checked_add(offset).ok_or_else(out_of_bounds)?;
    let end = start.checked_add(len).ok_or_else(out_of_bounds)?;
    if end > bytes.len() || end > u32::MAX as usize {
        return Err(out_of_bounds());
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(type_off: u32, type_len: u32, str_off: u32, str_len: u32) -> Vec<u8> {
        let mut bytes = vec![0x9f, 0xeb, 1, 0];
        for value in [24, type_off, type_len, str_off, str_len] {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn accepts_empty_type_section_with_one_string() {
        let mut bytes = header(0, 0, 0, 1);
        bytes.push(0);
        let parsed = parse_header(&bytes).unwrap();
        assert_eq!((parsed.types_start, parsed.types_end), (24, 24));
        assert_eq!((parsed.strings_start, parsed.strings_end), (24, 25));
    }

    #[test]
    fn rejects_bad_magic_version_and_bounds() {
        let mut bytes = header(0, 0, 0, 1);
        bytes.push(0);
        let mut wrong = bytes.clone();
        wrong[0] = 0;
        assert_eq!(parse_header(&wrong), Err(BtfError::BadMagic(0xeb00)));
        let mut wrong = bytes.clone();
        wrong[2] = 2;
        assert_eq!(parse_header(&wrong), Err(BtfError::UnsupportedVersion(2)));
        let mut wrong = header(0, 0, 0, 2);
        wrong.push(0);
        assert!(matches!(
            parse_header(&wrong),
            Err(BtfError::SectionOutOfBounds {
                section: "string",
                ..
            })
        ));
        assert_eq!(
            parse_header(&bytes[..10]),
            Err(BtfError::TruncatedHeader { len: 10 })
        );
    }

    #[test]
    fn reads_big_endian_headers() {
        let mut bytes = vec![0xeb, 0x9f, 1, 0];
        for value in [24u32, 0, 0, 0, 1] {
            bytes.extend_from_slice(&value.to_be_bytes());
        }
        bytes.push(0);
        let parsed = parse_header(&bytes).unwrap();
        assert!(parsed.big_endian);
        assert_eq!((parsed.strings_start, parsed.strings_end), (24, 25));
    }

    #[test]
    fn btf_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::Btf>();
    }

    #[test]
    fn rejects_split_btf() {
        let mut bytes = header(0, 0, 0, 2);
        bytes.extend_from_slice(b"a\0");
        assert_eq!(parse_header(&bytes), Err(BtfError::SplitBtfUnsupported));
    }

    #[test]
    fn rejects_flags_and_a_string_section_without_final_nul() {
        let mut flagged = header(0, 0, 0, 1);
        flagged.push(0);
        flagged[3] = 1;
        assert!(
            matches!(parse_header(&flagged), Err(BtfError::BadHeader(m)) if m.contains("flags"))
        );
        let mut unterminated = header(0, 0, 0, 3);
        unterminated.extend_from_slice(b"\0ab");
        assert!(matches!(
            parse_header(&unterminated),
            Err(BtfError::BadHeader(m)) if m.contains("NUL")
        ));
    }
}
