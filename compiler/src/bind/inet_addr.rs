//! Stage `bind`: socket addresses (`inet_addr(family, v4, v6)`) and their filters. Guarantees an
//! address is compared only with `==`/`!=` against an address literal, or matched with `in`
//! against addresses and prefixes, and that the comparison becomes integer tests the kernel
//! runs: the family, then the masked words of the address. An IPv4 literal also matches the
//! IPv4-mapped address of an IPv6 socket (`::ffff:10.1.2.3`), as `ss`'s filters do; an IPv6
//! literal matches IPv6 sockets only. A bad literal is E0260-E0263 at its span.

use super::{CmpOp, TExpr, TKind, Ty};
use crate::address::{parse_prefix, AddressError, Prefix, AF_INET, AF_INET6};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::Expr;

/// Whether a prefix may stand where an address is compared: only as an item of `in (...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PrefixUse {
    Allowed,
    Refused,
}

impl super::Binder<'_> {
    /// `inet_addr(family, v4, v6)`: the family number, the IPv4 field (4 bytes, network order)
    /// and the IPv6 field (a `struct in6_addr`) of one socket address.
    pub(super) fn bind_inet_addr(
        &mut self,
        args: &[Expr],
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        let [family, v4, v6] = args else {
            return Err(super::internal(span, "inet_addr takes three arguments"));
        };
        let family = self.bind_expr(family)?;
        let v4 = self.bind_expr(v4)?;
        let v6 = self.bind_expr(v6)?;
        let wrong = |e: &TExpr, want: &str| {
            Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!("`inet_addr` needs {want}, found {}", e.ty.a()),
            )
            .with_primary(e.span, "this argument")
            .with_note(
                "e.g. inet_addr(sk_common.skc_family, sk_common.skc_daddr, sk_common.skc_v6_daddr)",
            )
        };
        let family = match family.ty {
            Ty::Int { bytes: 2, .. } | Ty::AddressFamily { bytes: 2 } => TExpr {
                ty: Ty::Int {
                    bytes: 2,
                    signed: false,
                },
                ..family
            },
            _ => return Err(wrong(&family, "a 2-byte family (skc_family) first")),
        };
        let v4 = match v4.ty {
            Ty::Int { bytes: 4, .. } | Ty::Ipv4 => TExpr {
                ty: Ty::Int {
                    bytes: 4,
                    signed: false,
                },
                ..v4
            },
            _ => return Err(wrong(&v4, "a 4-byte IPv4 address second")),
        };
        let is_in6_addr = match &v6.ty {
            Ty::Struct { id } => self.env.btf.name_of(*id) == Some("in6_addr"),
            _ => false,
        };
        if !is_in6_addr || !matches!(v6.kind, TKind::Place { .. }) {
            return Err(wrong(&v6, "a `struct in6_addr` field third"));
        }
        Ok(TExpr {
            kind: TKind::InetAddr {
                family: Box::new(family),
                v4: Box::new(v4),
                v6: Box::new(v6),
            },
            ty: Ty::InetAddr,
            span,
        })
    }
}

/// `address == "10.1.2.3"` (either side), or with `PrefixUse::Allowed` an item of
/// `address in ("10.0.0.0/8", ...)`, as a condition on the address's fields.
pub(super) fn compare(
    op: CmpOp,
    l: TExpr,
    r: TExpr,
    prefixes: PrefixUse,
    name: &str,
    span: Span,
) -> Result<TExpr, Diagnostic> {
    let (address, literal) = if l.ty == Ty::InetAddr { (l, r) } else { (r, l) };
    let TKind::Str(text) = &literal.kind else {
        return Err(Diagnostic::error(
            codes::TYPE_MISMATCH,
            format!(
                "a socket address is compared with an address literal, not {}",
                literal.ty.a()
            ),
        )
        .with_primary(literal.span, "not a string")
        .with_note("e.g. dst == \"10.1.2.3\", src == \"::1\", dst in (\"10.0.0.0/8\")"));
    };
    if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Err(Diagnostic::error(
            codes::TYPE_MISMATCH,
            "addresses can only be compared with `==` or `!=`",
        )
        .with_primary(span, "ordering comparison on addresses")
        .with_note("match a range of addresses with a prefix: dst in (\"10.0.0.0/8\")"));
    }
    let prefix = literal_prefix(text, literal.span)?;
    if !prefix.is_address() && prefixes == PrefixUse::Refused {
        let text = String::from_utf8_lossy(text);
        return Err(Diagnostic::error(
            codes::PREFIX_NEEDS_IN,
            "a prefix is matched with `in`, not compared with `==` or `!=`",
        )
        .with_primary(literal.span, "a prefix: many addresses")
        .with_note(format!(
            "help: write `{name} {}in (\"{text}\")`",
            if op == CmpOp::Ne { "not " } else { "" }
        )));
    }
    let TKind::InetAddr { family, v4, v6 } = &address.kind else {
        return Err(super::internal(
            address.span,
            "an inet_addr value that is no inet_addr node",
        ));
    };
    let matches = if prefix.family == AF_INET {
        let own = and_all(
            vec![
                Some(family_is(family, AF_INET)),
                masked_equals(v4, 0, 4, &prefix, 0),
            ],
            span,
        );
        // ::ffff:a.b.c.d: the IPv4 address in the last word of an IPv6 socket's address.
        let mapped = and_all(
            vec![
                Some(family_is(family, AF_INET6)),
                word_equals(v6, 0, 8, 0, span),
                word_equals(
                    v6,
                    8,
                    4,
                    u64::from(u32::from_le_bytes([0, 0, 0xff, 0xff])),
                    span,
                ),
                masked_equals(v6, 12, 4, &prefix, 0),
            ],
            span,
        );
        or(own, mapped, span)
    } else {
        and_all(
            vec![
                Some(family_is(family, AF_INET6)),
                masked_equals(v6, 0, 8, &prefix, 0),
                masked_equals(v6, 8, 8, &prefix, 8),
            ],
            span,
        )
    };
    Ok(if op == CmpOp::Ne {
        TExpr {
            kind: TKind::Not(Box::new(matches)),
            ty: Ty::Bool,
            span,
        }
    } else {
        matches
    })
}

/// The literal's address or prefix, or E0260-E0262 at its span.
fn literal_prefix(text: &[u8], span: Span) -> Result<Prefix, Diagnostic> {
    let shown = String::from_utf8_lossy(text);
    parse_prefix(&shown).map_err(|error| match error {
        AddressError::NotAnAddress => Diagnostic::error(
            codes::BAD_ADDRESS,
            format!("\"{shown}\" is no IPv4 or IPv6 address"),
        )
        .with_primary(span, "compared with a socket address")
        .with_note("write an address as \"127.0.0.1\" or \"::1\", a prefix as \"10.0.0.0/8\" or \"fe80::/10\""),
        AddressError::BadLength { max } => Diagnostic::error(
            codes::BAD_PREFIX_LENGTH,
            format!("the prefix length of \"{shown}\" is not a number of bits up to {max}"),
        )
        .with_primary(span, "bad length after `/`")
        .with_note(format!("an address of this family has {max} bits")),
        AddressError::HostBits { network } => Diagnostic::error(
            codes::PREFIX_HOST_BITS,
            format!("\"{shown}\" has bits set after its prefix length"),
        )
        .with_primary(span, "not a network")
        .with_note(format!("help: did you mean \"{network}\"?")),
    })
}

/// `family == want`.
fn family_is(family: &TExpr, want: u16) -> TExpr {
    TExpr {
        kind: TKind::Compare {
            op: CmpOp::Eq,
            lhs: Box::new(family.clone()),
            rhs: Box::new(int(u64::from(want), family.span)),
            signed: false,
        },
        ty: Ty::Bool,
        span: family.span,
    }
}

/// The `bytes` bytes at `at` of `field` (the IPv4 word itself, or a word of the IPv6 place),
/// loaded as the kernel holds them: a little-endian integer of network-order bytes.
fn word(field: &TExpr, at: u32, bytes: u8) -> TExpr {
    let ty = Ty::Int {
        bytes,
        signed: false,
    };
    match &field.kind {
        TKind::Place { ptr, offset } => TExpr {
            kind: TKind::Load {
                ptr: ptr.clone(),
                offset: offset + at,
                bytes,
                signed: false,
                bitfield: None,
            },
            ty,
            span: field.span,
        },
        _ => TExpr {
            ty,
            ..field.clone()
        },
    }
}

/// `word == value`.
fn word_equals(field: &TExpr, at: u32, bytes: u8, value: u64, span: Span) -> Option<TExpr> {
    Some(TExpr {
        kind: TKind::Compare {
            op: CmpOp::Eq,
            lhs: Box::new(word(field, at, bytes)),
            rhs: Box::new(int(value, span)),
            signed: false,
        },
        ty: Ty::Bool,
        span,
    })
}

/// `(word & mask) == network` for the `bytes` bytes of `field` at `at`, matched against the
/// prefix's bytes from `from`; None when the prefix leaves all of them free.
fn masked_equals(field: &TExpr, at: u32, bytes: u8, prefix: &Prefix, from: usize) -> Option<TExpr> {
    let take = |source: [u8; 16]| {
        let mut word = [0u8; 8];
        word[..usize::from(bytes)].copy_from_slice(&source[from..from + usize::from(bytes)]);
        u64::from_le_bytes(word)
    };
    let (mask, network) = (take(prefix.mask()), take(prefix.bytes));
    let full = if bytes == 8 {
        u64::MAX
    } else {
        (1u64 << (u32::from(bytes) * 8)) - 1
    };
    let span = field.span;
    let loaded = word(field, at, bytes);
    let lhs = match mask {
        0 => return None,
        m if m == full => loaded,
        m => TExpr {
            kind: TKind::Arith {
                op: super::ArithOp::BitAnd,
                lhs: Box::new(loaded),
                rhs: Box::new(int(m, span)),
                signed: false,
            },
            ty: Ty::Int {
                bytes: 8,
                signed: false,
            },
            span,
        },
    };
    Some(TExpr {
        kind: TKind::Compare {
            op: CmpOp::Eq,
            lhs: Box::new(lhs),
            rhs: Box::new(int(network, span)),
            signed: false,
        },
        ty: Ty::Bool,
        span,
    })
}

fn int(value: u64, span: Span) -> TExpr {
    TExpr {
        kind: TKind::Int(value),
        ty: Ty::Literal,
        span,
    }
}

/// The tests joined with `and`; the first is always present (the family).
fn and_all(tests: Vec<Option<TExpr>>, span: Span) -> TExpr {
    tests
        .into_iter()
        .flatten()
        .reduce(|acc, test| TExpr {
            kind: TKind::And(Box::new(acc), Box::new(test)),
            ty: Ty::Bool,
            span,
        })
        .unwrap_or_else(|| int(1, span))
}

fn or(a: TExpr, b: TExpr, span: Span) -> TExpr {
    TExpr {
        kind: TKind::Or(Box::new(a), Box::new(b)),
        ty: Ty::Bool,
        span,
    }
}
