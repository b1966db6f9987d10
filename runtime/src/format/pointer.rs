//! Stage `format` (helper): how kernel addresses are shown, the one place that decides it.
//! Guarantees no kernel address is printed without `--show-kptrs`, whether a pointer column or
//! a pointer inside a struct's bytes: it is replaced by a SipHash-2-4 of the address under a
//! secret key (one per boot, `boot_key`, else per run) with the top bit cleared (never
//! address-like), so equal pointers look equal across the runs of a boot (like the kernel's
//! `%p`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use super::{FormatOptions, TextBuf};

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

    /// The key of these 16 bytes (`boot_key`'s file).
    pub fn from_bytes(bytes: [u8; 16]) -> PointerKey {
        let (k0, k1) = bytes.split_at(8);
        PointerKey {
            k0: u64::from_le_bytes(k0.try_into().unwrap_or_default()),
            k1: u64::from_le_bytes(k1.try_into().unwrap_or_default()),
        }
    }

    /// The 16 bytes `from_bytes` reads back.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.k0.to_le_bytes());
        bytes[8..].copy_from_slice(&self.k1.to_le_bytes());
        bytes
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

    /// The word shown instead of `address`: 0 for NULL, else a SipHash-2-4 of it with the top
    /// bit cleared. Every kernel address has that bit set (the upper half of the address
    /// space), so a token can never be mistaken for one, nor a 63-bit hash collide in practice.
    pub fn token(&self, address: u64) -> u64 {
        if address == 0 {
            0
        } else {
            siphash24(self.k0, self.k1, &address.to_le_bytes()) & !(1 << 63)
        }
    }
}

/// Where the key comes from: a key at hand, or a function asked at the first hidden pointer (the
/// boot's key is read from its file only by a run that shows a pointer).
#[derive(Debug, Clone, Copy)]
pub enum KeySource {
    Key(PointerKey),
    Deferred(fn() -> PointerKey),
}

impl KeySource {
    /// The key (a deferred one is the function's to cache).
    pub fn key(&self) -> PointerKey {
        match self {
            KeySource::Key(key) => *key,
            KeySource::Deferred(get) => get(),
        }
    }
}

impl From<PointerKey> for KeySource {
    fn from(key: PointerKey) -> KeySource {
        KeySource::Key(key)
    }
}

/// The one rule for every kernel address bpfq prints: itself only with `--show-kptrs`, else
/// its token. Pointer columns and the pointers inside struct bytes both come through here.
pub(super) fn visible(address: u64, options: &FormatOptions) -> u64 {
    if options.show_kptrs {
        address
    } else {
        options.pointer_key.key().token(address)
    }
}

/// Appends a non-NULL pointer column's text: `0x` and the 16 hex digits of the visible word
/// (a NULL pointer is NULL, which each format shows its own way: `text::push_slow`).
pub(super) fn push_pointer(out: &mut TextBuf, address: u64, options: &FormatOptions) {
    push_hex64(out, visible(address, options));
}

/// Appends `bytes` as hex (two digits a byte, in memory order), each 8-byte kernel address at
/// an offset in `pointers` replaced by the bytes of its visible word (in memory order too, so
/// equal pointers show equal bytes here and in a pointer column, byte-swapped).
pub(super) fn push_bytes(
    out: &mut TextBuf,
    bytes: &[u8],
    pointers: &[u32],
    options: &FormatOptions,
) {
    let mut rest = bytes;
    let mut at = 0;
    for &slot in pointers {
        let slot = slot as usize;
        if slot < at {
            // Overlapping the pointer before it (a union of unaligned pointers): the bytes of
            // this one not hidden yet are shown as zeros.
            let cut = (slot + 8).saturating_sub(at).min(rest.len());
            (0..cut).for_each(|_| out.push_str("00"));
            rest = &rest[cut..];
            at += cut;
            continue;
        }
        let before = slot - at;
        if before > rest.len() {
            // Past the end of the value.
            break;
        }
        push_hex(out, &rest[..before]);
        rest = &rest[before..];
        let Some(word) = rest.first_chunk::<8>() else {
            // A pointer cut by the end of the value: nothing of it is shown.
            rest.iter().for_each(|_| out.push_str("00"));
            return;
        };
        push_hex(
            out,
            &visible(u64::from_le_bytes(*word), options).to_le_bytes(),
        );
        rest = &rest[8..];
        at = slot + 8;
    }
    push_hex(out, rest);
}

/// Two hex digits for each byte.
fn push_hex(out: &mut TextBuf, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push_ascii(&[
            DIGITS[usize::from(byte >> 4)],
            DIGITS[usize::from(byte & 0xf)],
        ]);
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

    fn options(show_kptrs: bool) -> FormatOptions {
        FormatOptions {
            show_kptrs,
            pointer_key: PointerKey::fixed(K0, K1).into(),
            ..FormatOptions::default()
        }
    }

    fn pointer_text(address: u64, show_kptrs: bool) -> String {
        let mut out = TextBuf::new();
        push_pointer(&mut out, address, &options(show_kptrs));
        out.into_string()
    }

    fn bytes_text(bytes: &[u8], pointers: &[u32], show_kptrs: bool) -> String {
        let mut out = TextBuf::new();
        push_bytes(&mut out, bytes, pointers, &options(show_kptrs));
        out.into_string()
    }

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
            assert_eq!(pointer_text(address, true), format!("0x{address:016x}"));
            let hashed = siphash24(K0, K1, &address.to_le_bytes()) & !(1 << 63);
            assert_eq!(pointer_text(address, false), format!("0x{hashed:016x}"));
        }
    }

    #[test]
    fn hidden_pointers_are_stable_per_key_and_never_address_like() {
        let key = PointerKey::fixed(1, 2);
        let address = 0xffff_8880_0123_4560u64;
        assert_eq!(key.token(address), key.token(address));
        assert_ne!(key.token(address), PointerKey::fixed(3, 4).token(address));
        // The top bit is never set, whatever the hash: scan many addresses.
        for n in 0..10_000u64 {
            assert!(key.token(0xffff_8880_0000_0000 + n * 64) < 1 << 63);
        }
    }

    #[test]
    fn pointers_inside_bytes_are_hidden_slot_by_slot() {
        // A list_head-like value: two pointers, then 4 bytes of integer.
        let next = 0xffff_8881_0026_c920u64;
        let prev = 0xffff_ffff_8100_0000u64;
        let mut bytes = next.to_le_bytes().to_vec();
        bytes.extend(prev.to_le_bytes());
        bytes.extend([0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(
            bytes_text(&bytes, &[0, 8], true),
            "20c926008188ffff00000081ffffffffdeadbeef"
        );
        let hidden = bytes_text(&bytes, &[0, 8], false);
        let token = |a: u64| {
            PointerKey::fixed(K0, K1)
                .token(a)
                .to_le_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(hidden, format!("{}{}deadbeef", token(next), token(prev)));
        // NULL stays zeros; bytes without pointers are untouched.
        assert_eq!(bytes_text(&[0; 8], &[0], false), "0000000000000000");
        assert_eq!(bytes_text(&[0xde, 0x0a], &[], false), "de0a");
        // A slot cut by the end of the value shows nothing of the address.
        assert_eq!(bytes_text(&[0x20, 0xc9, 0x26], &[0], false), "000000");
        // Overlapping slots: the second one's bytes past the first are zeros.
        let shown = bytes_text(&bytes, &[0, 4], false);
        assert_eq!(&shown[..16], token(next));
        assert_eq!(&shown[16..], "00000000ffffffffdeadbeef");
    }
}
