//! Stage `bind`: the `vma_perms` column type. Guarantees a permission column is compared only
//! with `==`/`!=` against another one or a four-character /proc/PID/maps string (`"r-xp"`),
//! which becomes the bits it stands for, so the comparison runs in the kernel on integers.

use super::{CmpOp, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};

/// VM_READ | VM_WRITE | VM_EXEC | VM_MAYSHARE: the bits /proc/PID/maps' permissions show.
pub(super) const VMA_PERMS_BITS: u64 = 0x87;

/// The bits of a permission string, one position each: `r`, `w`, `x`, then `s` (VM_MAYSHARE)
/// or `p`; `-` clears the bit.
fn parse(text: &[u8]) -> Option<u64> {
    let [r, w, x, s] = text else {
        return None;
    };
    let bit = |c: u8, set: u8, bit: u64, clear: u8| match c {
        c if c == set => Some(bit),
        c if c == clear => Some(0),
        _ => None,
    };
    Some(
        bit(*r, b'r', 1, b'-')?
            | bit(*w, b'w', 2, b'-')?
            | bit(*x, b'x', 4, b'-')?
            | bit(*s, b's', 0x80, b'p')?,
    )
}

/// `perms == "rw-p"` (either side, or two permission columns) as an integer comparison.
pub(super) fn compare(op: CmpOp, l: TExpr, r: TExpr, span: Span) -> Result<TExpr, Diagnostic> {
    if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Err(Diagnostic::error(
            codes::TYPE_MISMATCH,
            "permissions can only be compared with `==` or `!=`",
        )
        .with_primary(span, "ordering comparison on permissions")
        .with_note("test one permission with the boolean columns read, write, exec and shared"));
    }
    let as_bits = |e: TExpr| -> Result<TExpr, Diagnostic> {
        match &e.kind {
            TKind::Str(text) => {
                let bits = parse(text).ok_or_else(|| {
                    Diagnostic::error(codes::TYPE_MISMATCH, "not a permission string")
                        .with_primary(
                            e.span,
                            "expected four characters as /proc/PID/maps shows them, such as \"r-xp\"",
                        )
                        .with_note("r or -, w or -, x or -, then s (shared) or p (private)")
                })?;
                Ok(TExpr {
                    kind: TKind::Int(bits),
                    ty: Ty::Literal,
                    span: e.span,
                })
            }
            _ => Ok(TExpr {
                ty: Ty::Int {
                    bytes: 8,
                    signed: false,
                },
                ..e
            }),
        }
    };
    Ok(unsigned_compare(op, as_bits(l)?, as_bits(r)?, span))
}

/// `lhs op rhs` on unsigned integers: how a column compared as text is compared in the kernel.
pub(super) fn unsigned_compare(op: CmpOp, lhs: TExpr, rhs: TExpr, span: Span) -> TExpr {
    TExpr {
        kind: TKind::Compare {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            signed: false,
        },
        ty: Ty::Bool,
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn permission_strings_map_to_their_bits() {
        assert_eq!(parse(b"r-xp"), Some(5));
        assert_eq!(parse(b"rw-s"), Some(0x83));
        assert_eq!(parse(b"---p"), Some(0));
        assert_eq!(parse(b"rwxs"), Some(0x87));
        assert_eq!(parse(b"rwx"), None);
        assert_eq!(parse(b"r-xq"), None);
        assert_eq!(parse(b"w--p"), None);
    }
}
