//! Stage `format` (helper): the text of the cells that are short printable ASCII by their type
//! (integers, IPv4 addresses, booleans, enumerator names), written into a stack buffer. Sinks
//! use it to copy such a cell once, with no escaping check and its width known from its length.

use crate::decode::Cell;

/// Room for the longest quick text: `-9223372036854775808` (20) and `255.255.255.255` (15).
pub(super) type Scratch = [u8; 24];

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
        Cell::Bool(b) => Some(if *b { b"true" } else { b"false" }),
        Cell::Text(text) if is_printable(text.as_bytes()) => Some(text.as_bytes()),
        _ => None,
    }
}

/// Whether every byte is printable ASCII (space to `~`): such text needs no escaping and its
/// width is its length.
pub(super) fn is_printable(text: &[u8]) -> bool {
    text.iter().all(|&b| b.wrapping_sub(0x20) < 0x5f)
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
    let mut len = 0;
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
    &scratch[..len]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::net::Ipv4Addr;

    fn quick(cell: Cell<'_>) -> Option<String> {
        let mut scratch = [0; 24];
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
