//! Stage `format` (helper): how kernel addresses are shown. Guarantees a hidden pointer never
//! reveals the address: it is replaced by a SipHash-2-4 of the address under a per-run random
//! key, so equal pointers still look equal within one output (like the kernel's `%p`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use super::TextBuf;

/// The 128-bit SipHash key used to hide addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointerKey {
    k0: u64,
    k1: u64,
}

impl PointerKey {
    /// A fixed key, for reproducible output (tests, golden files).
    pub fn fixed(k0: u64, k1: u64) -> PointerKey {
        PointerKey { k0, k1 }
    }

    /// A key that is unpredictable to anyone reading the output.
    pub fn random() -> PointerKey {
        // RandomState is seeded from the OS's random source once per process; hashing two
        // different inputs gives two independent 64-bit halves without any extra I/O.
        let state = RandomState::new();
        let half = |salt: u64| {
            let mut hasher = state.build_hasher();
            hasher.write_u64(salt);
            hasher.finish()
        };
        PointerKey {
            k0: half(0),
            k1: half(1),
        }
    }

    /// The token shown instead of `address`: `0` for NULL, else `0x` and 16 hex digits.
    pub fn hide(&self, address: u64) -> String {
        let mut out = TextBuf::new();
        self.push_hidden(&mut out, address);
        out.into_string()
    }

    /// Appends `hide(address)` to `out` (no allocation: a dump may hide millions of pointers).
    pub fn push_hidden(&self, out: &mut TextBuf, address: u64) {
        if address == 0 {
            out.push('0');
        } else {
            push_hex64(out, siphash24(self.k0, self.k1, &address.to_le_bytes()));
        }
    }
}

/// A raw address as the user asked to see it.
pub fn show(address: u64) -> String {
    let mut out = TextBuf::new();
    push_shown(&mut out, address);
    out.into_string()
}

/// Appends `show(address)` to `out`.
pub fn push_shown(out: &mut TextBuf, address: u64) {
    if address == 0 {
        out.push('0');
    } else {
        push_hex64(out, address);
    }
}

/// `0x` and the 16 hex digits of `word`.
fn push_hex64(out: &mut TextBuf, word: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut token = *b"0x0000000000000000";
    for (index, digit) in token[2..].iter_mut().enumerate() {
        *digit = DIGITS[((word >> ((15 - index) * 4)) & 0xf) as usize];
    }
    out.push_ascii(&token);
}

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 (Aumasson & Bernstein) of `message` under key (k0, k1).
fn siphash24(k0: u64, k1: u64, message: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut blocks = message.chunks_exact(8);
    for block in &mut blocks {
        let mut word = [0u8; 8];
        word.copy_from_slice(block);
        let m = u64::from_le_bytes(word);
        v[3] ^= m;
        sip_round(&mut v);
        sip_round(&mut v);
        v[0] ^= m;
    }
    let mut last = [0u8; 8];
    let tail = blocks.remainder();
    last[..tail.len()].copy_from_slice(tail);
    last[7] = message.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key 00 01 .. 0f of the SipHash paper's test vectors.
    const K0: u64 = 0x0706_0504_0302_0100;
    const K1: u64 = 0x0f0e_0d0c_0b0a_0908;

    #[test]
    fn matches_the_reference_vectors() {
        assert_eq!(siphash24(K0, K1, &[]), 0x726f_db47_dd0e_0e31);
        let eight: Vec<u8> = (0..8).collect();
        assert_eq!(siphash24(K0, K1, &eight), 0x93f5_f579_9a93_2462);
        let fifteen: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(K0, K1, &fifteen), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn shown_and_hidden_tokens_are_16_hex_digits() {
        for address in [1u64, 0xabc, 0xffff_ffff_8100_0000, u64::MAX] {
            assert_eq!(show(address), format!("0x{address:016x}"));
            let hashed = siphash24(K0, K1, &address.to_le_bytes());
            assert_eq!(
                PointerKey::fixed(K0, K1).hide(address),
                format!("0x{hashed:016x}")
            );
        }
    }

    #[test]
    fn hidden_pointers_are_stable_per_key_and_never_the_address() {
        let key = PointerKey::fixed(1, 2);
        let address = 0xffff_8880_0123_4560u64;
        assert_eq!(key.hide(address), key.hide(address));
        assert_ne!(key.hide(address), show(address));
        assert_ne!(key.hide(address), PointerKey::fixed(3, 4).hide(address));
        assert_eq!(key.hide(0), "0");
        assert_eq!(key.hide(address).len(), 18);
    }
}
