//! BPF's 64-bit ALU and jumps, as values: the one definition of what the generated program
//! computes for arithmetic, comparisons and width changes. Constant folding (`bind`), the map
//! walk's evaluator and user space's grouped results all compute through it, so a value never
//! depends on where it was computed.

use crate::bind::{ArithOp, CmpOp};

/// `a op b` in a 64-bit register: wrapping arithmetic; x / 0 = 0 and x % 0 = x (signed or not);
/// INT64_MIN / -1 = INT64_MIN and INT64_MIN % -1 = 0; shift counts taken modulo 64; `>>` is
/// arithmetic when `signed`.
pub fn arith(op: ArithOp, a: u64, b: u64, signed: bool) -> u64 {
    let (sa, sb) = (a as i64, b as i64);
    match op {
        ArithOp::Add => a.wrapping_add(b),
        ArithOp::Sub => a.wrapping_sub(b),
        ArithOp::Mul => a.wrapping_mul(b),
        ArithOp::Div if b == 0 => 0,
        ArithOp::Rem if b == 0 => a,
        ArithOp::Div if signed => sa.wrapping_div(sb) as u64,
        ArithOp::Rem if signed => sa.wrapping_rem(sb) as u64,
        ArithOp::Div => a / b,
        ArithOp::Rem => a % b,
        ArithOp::BitAnd => a & b,
        ArithOp::BitOr => a | b,
        ArithOp::BitXor => a ^ b,
        ArithOp::Shl => a << (b & 63),
        ArithOp::Shr if signed => (sa >> (b & 63)) as u64,
        ArithOp::Shr => a >> (b & 63),
    }
}

/// Whether the jump `a op b` is taken: 64-bit registers compared as signed (`jslt`...) or
/// unsigned (`jlt`...).
pub fn compare(op: CmpOp, a: u64, b: u64, signed: bool) -> bool {
    let ordering = if signed {
        (a as i64).cmp(&(b as i64))
    } else {
        a.cmp(&b)
    };
    op.holds(ordering)
}

/// Unary minus (`neg`): two's complement, INT64_MIN stays INT64_MIN.
pub fn neg(v: u64) -> u64 {
    v.wrapping_neg()
}

/// Bits `[bit, bit + bits)` of `v`, zero- or sign-extended to 64 bits (the lowering's two
/// shifts): a load of a narrow field, a bitfield, or a cast to a `bits`-wide type.
pub fn extend(v: u64, bits: u32, bit: u32, signed: bool) -> u64 {
    if bits >= 64 {
        return v;
    }
    let raised = v << (64 - bit - bits);
    let down = 64 - bits;
    if signed {
        ((raised as i64) >> down) as u64
    } else {
        raised >> down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_and_shifts_follow_bpf() {
        assert_eq!(arith(ArithOp::Div, 7, 0, false), 0);
        assert_eq!(arith(ArithOp::Rem, 7, 0, true), 7);
        let min = i64::MIN as u64;
        assert_eq!(arith(ArithOp::Div, min, u64::MAX, true), min);
        assert_eq!(arith(ArithOp::Rem, min, u64::MAX, true), 0);
        assert_eq!(arith(ArithOp::Div, (-7i64) as u64, 2, true), (-3i64) as u64);
        assert_eq!(arith(ArithOp::Rem, (-7i64) as u64, 2, true), (-1i64) as u64);
        assert_eq!(arith(ArithOp::Shl, 1, 65, false), 2);
        assert_eq!(arith(ArithOp::Shr, min, 63, true), u64::MAX);
        assert_eq!(arith(ArithOp::Shr, min, 63, false), 1);
    }

    #[test]
    fn extension_keeps_width_and_sign() {
        assert_eq!(extend(0xff, 8, 0, true), u64::MAX);
        assert_eq!(extend(0x1ff, 8, 0, false), 0xff);
        // Bits 4..7 of 0xa0 are 0b1010: -6 signed.
        assert_eq!(extend(0xa0, 4, 4, true), (-6i64) as u64);
        assert_eq!(extend(0xa0, 4, 4, false), 10);
    }

    #[test]
    fn comparisons_are_signed_or_unsigned_jumps() {
        assert!(compare(CmpOp::Lt, (-1i64) as u64, 0, true));
        assert!(!compare(CmpOp::Lt, (-1i64) as u64, 0, false));
        assert!(compare(CmpOp::Ge, 5, 5, true));
        assert!(compare(CmpOp::Ne, 5, 6, false));
    }
}
