//! Stage `format` (helper): the text of the cells that are short printable ASCII by their type
//! (integers, IP addresses, booleans, enumerator names), written into a stack buffer. Sinks
//! use it to copy such a cell once, with no escaping check and its width known from its length.
//! Numbers and addresses read exactly as the standard library's `Display` writes them.

use std::net::Ipv6Addr;

use crate::decode::Cell;

/// Room for the longest quick text: eight groups of four hex digits and seven colons (39).
pub(super) type Scratch = [u8; 40];

/// The text of `cell` if its type makes it printable ASCII, else `None` (text, bytes,
/// pointers, floats, IPv6 and NULL take the general path).
pub(super) fn quick_text<'a>(cell: &'a Cell<'_>, scratch: &'a mut Scratch) -> Option<&'a [u8]> {
    match cell {
        Cell::UInt(n) => Some(digits(*n, false, scratch)),
        Cell::Int(n) => Some(digits(n.unsigned_abs(), *n < 0, scratch)),
        Cell::Enum {
            name: Some(name), ..
        } if is_printable(name.as_bytes()) => Some(name.as_bytes()),
        Cell::Enum { value, name: None } => Some(digits(value.unsigned_abs(), *value < 0, scratch)),
        Cell::Ipv4(address) => Some(ipv4(address.octets(), scratch)),
        Cell::Ipv6(address) => Some(ipv6(address, scratch)),
        Cell::Bool(b) => Some(if *b { b"true" } else { b"false" }),
        Cell::Text(text) if is_printable(text.as_bytes()) => Some(text.as_bytes()),
        _ => None,
    }
}

/// Whether every byte is printable ASCII (space to `~`): such text needs no escaping and its
/// width is its length.
pub(super) fn is_printable(text: &[u8]) -> bool {
    // No early exit: the loop compiles to SIMD compares, faster on names of a few dozen bytes.
    text.iter().fold(0u8, |outside, &b| {
        outside | u8::from(b.wrapping_sub(0x20) >= 0x5f)
    }) == 0
}

/// Decimal digits of `n` (after a `-` when `negative`), written back to front.
fn digits(mut n: u64, negative: bool, scratch: &mut Scratch) -> &[u8] {
    let mut start = scratch.len();
    loop {
        start -= 1;
        scratch[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        start -= 1;
        scratch[start] = b'-';
    }
    &scratch[start..]
}

/// Dotted decimal, as `Ipv4Addr`'s `Display` writes it.
fn ipv4(octets: [u8; 4], scratch: &mut Scratch) -> &[u8] {
    let len = push_ipv4(octets, scratch, 0);
    &scratch[..len]
}

/// Writes dotted decimal into `scratch` from `start` on; returns where it ends.
fn push_ipv4(octets: [u8; 4], scratch: &mut Scratch, start: usize) -> usize {
    let mut len = start;
    for (index, octet) in octets.into_iter().enumerate() {
        if index > 0 {
            scratch[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            scratch[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            scratch[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        scratch[len] = b'0' + octet % 10;
        len += 1;
    }
    len
}

/// RFC 5952 text, as `Ipv6Addr`'s `Display` writes it: IPv4-mapped addresses as `::ffff:a.b.c.d`,
/// the longest run of two or more zero groups (the first of equal runs) as `::`, the other
/// groups in lower-case hex without leading zeros.
fn ipv6<'a>(address: &Ipv6Addr, scratch: &'a mut Scratch) -> &'a [u8] {
    if let Some(mapped) = address.to_ipv4_mapped() {
        const PREFIX: &[u8] = b"::ffff:";
        scratch[..PREFIX.len()].copy_from_slice(PREFIX);
        let len = push_ipv4(mapped.octets(), scratch, PREFIX.len());
        return &scratch[..len];
    }
    let groups = address.segments();
    let (mut run_start, mut run_len) = (0, 0);
    let mut current = 0;
    for (index, &group) in groups.iter().enumerate() {
        current = if group == 0 { current + 1 } else { 0 };
        if current > run_len {
            (run_start, run_len) = (index + 1 - current, current);
        }
    }
    let mut len = 0;
    let mut index = 0;
    while index < groups.len() {
        if run_len > 1 && index == run_start {
            scratch[len..len + 2].copy_from_slice(b"::");
            len += 2;
            index += run_len;
            continue;
        }
        if index > 0 && !(run_len > 1 && index == run_start + run_len) {
            scratch[len] = b':';
            len += 1;
        }
        push_hex_group(scratch, &mut len, groups[index]);
        index += 1;
    }
    &scratch[..len]
}

/// One group in lower-case hex without leading zeros.
fn push_hex_group(scratch: &mut Scratch, len: &mut usize, group: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (4 - group.leading_zeros() as usize / 4).max(1);
    for shift in (0..digits).rev() {
        scratch[*len] = HEX[usize::from(group >> (shift * 4)) & 0xf];
        *len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::net::Ipv4Addr;

    fn quick(cell: Cell<'_>) -> Option<String> {
        let mut scratch = [0; 40];
        quick_text(&cell, &mut scratch).map(|t| String::from_utf8_lossy(t).into_owned())
    }

    #[test]
    fn numbers_and_addresses_match_the_standard_formatting() {
        for n in [0, 1, 9, 10, 99, 100, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(quick(Cell::UInt(n)), Some(n.to_string()));
        }
        for n in [i64::MIN, -1, 0, 7, i64::MAX] {
            assert_eq!(quick(Cell::Int(n)), Some(n.to_string()));
            assert_eq!(
                quick(Cell::Enum {
                    value: n,
                    name: None
                }),
                Some(n.to_string())
            );
        }
        for octets in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [255, 255, 255, 255],
            [10, 99, 100, 9],
        ] {
            let address = Ipv4Addr::from(octets);
            assert_eq!(quick(Cell::Ipv4(address)), Some(address.to_string()));
        }
    }

    #[test]
    fn ipv6_text_matches_the_standard_formatting() {
        let mut patterns: Vec<[u16; 8]> = vec![
            [0; 8],
            [0, 0, 0, 0, 0, 0, 0, 1],
            [1, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280],
            [0, 0, 0, 0, 0, 0, 0xc000, 0x0280],
            [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1],
            [0x2001, 0xdb8, 0, 1, 0, 0, 0, 1],
            [0x2001, 0, 1, 1, 1, 1, 1, 1],
            [0xfe80, 0, 0, 0, 0x1ff, 0xfe23, 0x4567, 0x890a],
            [0xffff; 8],
            [0, 1, 0, 1, 0, 1, 0, 1],
        ];
        // Every mix of zero and non-zero groups, with varied digit counts.
        for mask in 0u16..256 {
            let mut groups = [0u16; 8];
            for (index, group) in groups.iter_mut().enumerate() {
                if mask & (1 << index) != 0 {
                    *group = [0xa, 0xbc, 0xdef, 0x1234][index % 4];
                }
            }
            patterns.push(groups);
        }
        for groups in patterns {
            let address = std::net::Ipv6Addr::from(groups);
            assert_eq!(
                quick(Cell::Ipv6(address)),
                Some(address.to_string()),
                "{groups:x?}"
            );
        }
    }

    #[test]
    fn only_printable_ascii_takes_the_quick_path() {
        assert_eq!(
            quick(Cell::Text(Cow::Borrowed("sshd"))),
            Some("sshd".into())
        );
        assert_eq!(quick(Cell::Text(Cow::Borrowed("a\tb"))), None);
        assert_eq!(quick(Cell::Text(Cow::Borrowed("é"))), None);
        assert_eq!(
            quick(Cell::Enum {
                value: 10,
                name: Some("TCP_LISTEN")
            }),
            Some("TCP_LISTEN".into())
        );
        assert_eq!(quick(Cell::Null), None);
        assert_eq!(quick(Cell::Pointer(1)), None);
        assert_eq!(quick(Cell::Bool(false)), Some("false".into()));
    }
}
