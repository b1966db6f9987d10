//! Socket addresses as people write them, for every stage that needs them: the address families
//! by name (the kernel's `AF_*` values, which are macros and so not in BTF) and an address or
//! prefix literal (`"10.1.2.3"`, `"fe80::/10"`) parsed into the bytes a filter compares.
//! Guarantees a literal is accepted only when it is exactly one address or one network: an
//! address is a prefix of its full length, and a prefix has no bits set after its length.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `AF_INET`: an IPv4 socket.
pub const AF_INET: u16 = 2;
/// `AF_INET6`: an IPv6 socket (also holding IPv4-mapped addresses, `::ffff:a.b.c.d`).
pub const AF_INET6: u16 = 10;

/// The address families by name, as `ss -f` and `ip` name them where they do (`inet`, `inet6`,
/// `unix`, `netlink`, `packet`, `vsock`...), else the kernel's `AF_` name in lower case
/// (include/linux/socket.h, which numbers them the same on every architecture).
pub const FAMILIES: &[(&str, i64)] = &[
    ("unspec", 0),
    ("unix", 1),
    ("inet", 2),
    ("ax25", 3),
    ("ipx", 4),
    ("appletalk", 5),
    ("netrom", 6),
    ("bridge", 7),
    ("atmpvc", 8),
    ("x25", 9),
    ("inet6", 10),
    ("rose", 11),
    ("decnet", 12),
    ("netbeui", 13),
    ("security", 14),
    ("key", 15),
    ("netlink", 16),
    ("packet", 17),
    ("ash", 18),
    ("econet", 19),
    ("atmsvc", 20),
    ("rds", 21),
    ("sna", 22),
    ("irda", 23),
    ("pppox", 24),
    ("wanpipe", 25),
    ("llc", 26),
    ("ib", 27),
    ("mpls", 28),
    ("can", 29),
    ("tipc", 30),
    ("bluetooth", 31),
    ("iucv", 32),
    ("rxrpc", 33),
    ("isdn", 34),
    ("phonet", 35),
    ("ieee802154", 36),
    ("caif", 37),
    ("alg", 38),
    ("nfc", 39),
    ("vsock", 40),
    ("kcm", 41),
    ("qipcrtr", 42),
    ("smc", 43),
    ("xdp", 44),
    ("mctp", 45),
];

/// An address or network: `len` leading bits of `bytes` (network order) that must match. An
/// IPv4 one keeps its 4 bytes first, the rest zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    pub family: u16,
    pub bytes: [u8; 16],
    pub len: u8,
}

/// Why a literal is no address or prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// The part before any `/` is neither an IPv4 nor an IPv6 address.
    NotAnAddress,
    /// The part after `/` is not a number up to `max`.
    BadLength { max: u8 },
    /// Bits are set after the length; `network` is the prefix written correctly.
    HostBits { network: String },
}

impl Prefix {
    /// The full width of an address of this family, in bits.
    pub fn max_len(&self) -> u8 {
        if self.family == AF_INET {
            32
        } else {
            128
        }
    }

    /// Whether it is one address (its full length) rather than a network.
    pub fn is_address(&self) -> bool {
        self.len == self.max_len()
    }

    /// The mask of its `len` leading bits, in network order.
    pub fn mask(&self) -> [u8; 16] {
        let mut mask = [0u8; 16];
        for (index, byte) in mask.iter_mut().enumerate() {
            let bits = usize::from(self.len).saturating_sub(index * 8).min(8);
            *byte = !(0xffu8.checked_shr(bits as u32).unwrap_or(0));
        }
        mask
    }
}

/// Parses `"10.1.2.3"`, `"::1"`, `"10.0.0.0/8"` or `"fe80::/10"`.
pub fn parse_prefix(text: &str) -> Result<Prefix, AddressError> {
    let (address, length) = match text.split_once('/') {
        Some((address, length)) => (address, Some(length)),
        None => (text, None),
    };
    let (family, bytes, max) = if let Ok(v4) = address.parse::<Ipv4Addr>() {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&v4.octets());
        (AF_INET, bytes, 32u8)
    } else if let Ok(v6) = address.parse::<Ipv6Addr>() {
        (AF_INET6, v6.octets(), 128u8)
    } else {
        return Err(AddressError::NotAnAddress);
    };
    let len = match length {
        None => max,
        Some(digits) => digits
            .parse::<u8>()
            .ok()
            .filter(|len| *len <= max && digits.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(AddressError::BadLength { max })?,
    };
    let prefix = Prefix { family, bytes, len };
    let mask = prefix.mask();
    if bytes.iter().zip(mask).any(|(byte, mask)| byte & !mask != 0) {
        let mut network = bytes;
        network.iter_mut().zip(mask).for_each(|(b, m)| *b &= m);
        let shown = if family == AF_INET {
            Ipv4Addr::new(network[0], network[1], network[2], network[3]).to_string()
        } else {
            Ipv6Addr::from(network).to_string()
        };
        return Err(AddressError::HostBits {
            network: format!("{shown}/{len}"),
        });
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_prefixes_of_their_full_length() {
        let v4 = parse_prefix("10.1.2.3").unwrap();
        assert_eq!(
            (v4.family, v4.len, &v4.bytes[..4]),
            (AF_INET, 32, &[10, 1, 2, 3][..])
        );
        assert!(v4.is_address());
        let v6 = parse_prefix("::1").unwrap();
        assert_eq!((v6.family, v6.len, v6.bytes[15]), (AF_INET6, 128, 1));
    }

    #[test]
    fn prefixes_mask_their_leading_bits() {
        let p = parse_prefix("fe80::/10").unwrap();
        assert_eq!(&p.mask()[..3], &[0xff, 0xc0, 0]);
        assert!(!p.is_address());
        assert_eq!(parse_prefix("0.0.0.0/0").unwrap().mask(), [0; 16]);
    }

    #[test]
    fn bad_literals_say_why() {
        assert_eq!(parse_prefix("10.1.2"), Err(AddressError::NotAnAddress));
        assert_eq!(
            parse_prefix("10.0.0.0/33"),
            Err(AddressError::BadLength { max: 32 })
        );
        assert_eq!(
            parse_prefix("::/+1"),
            Err(AddressError::BadLength { max: 128 })
        );
        assert_eq!(
            parse_prefix("10.1.2.3/8"),
            Err(AddressError::HostBits {
                network: "10.0.0.0/8".into()
            })
        );
    }
}
