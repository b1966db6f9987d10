//! Stage `bind`: corrections for iterators whose raw output is not what a user should see,
//! each target's in one record (`TargetQuirks`). ksym lists the kernel symbol of the very
//! program that is dumping it (`bpf_prog_<tag>_bpfq_ksym`), skipped by a filter added here in
//! the kernel; shows its last symbol twice (dropped in user space); and holds each symbol's
//! address in an integer (`kallsym_iter.value`), typed here as a pointer so it is hidden like
//! one, as are the few kernel structs' integers that hold addresses (`ADDRESS_INTEGERS`).

use super::{Binder, TExpr, TKind, Ty};
use crate::diagnostic::{Diagnostic, Span};

/// What one iterator target does that the binder, planner and runtime must correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetQuirks {
    pub target: &'static str,
    /// The target lists the symbol of the program that dumps it; a filter skips it.
    pub lists_own_program: bool,
    /// The kernel shows the last object twice; only the row stream can drop the repeat, so
    /// the query groups in user space.
    pub repeats_last_row: bool,
    /// Integer members (struct, member) that hold a kernel address: typed as pointers, so
    /// they are hidden, compared and refused in arithmetic like any pointer.
    pub address_members: &'static [(&'static str, &'static str)],
}

const NONE: TargetQuirks = TargetQuirks {
    target: "",
    lists_own_program: false,
    repeats_last_row: false,
    address_members: &[],
};

const QUIRKS: &[TargetQuirks] = &[TargetQuirks {
    target: "ksym",
    lists_own_program: true,
    repeats_last_row: true,
    address_members: &[("kallsym_iter", "value")],
}];

/// The quirks of `target` (none for most).
pub fn quirks_of(target: &str) -> &'static TargetQuirks {
    QUIRKS.iter().find(|q| q.target == target).unwrap_or(&NONE)
}

/// Members of kernel structs that keep a kernel address in an 8-byte integer, whatever the
/// target: an rb-tree node's parent (its colour in bit 0), the task owning a mutex or an
/// rw_semaphore (`atomic_long_t`, flags in the low bits).
const ADDRESS_INTEGERS: &[(&str, &str)] = &[
    ("rb_node", "__rb_parent_color"),
    ("mutex", "owner"),
    ("rw_semaphore", "owner"),
];

/// Whether member `member` of struct `owner` holds a kernel address in an integer (a target's
/// `address_members` or one of `ADDRESS_INTEGERS`). A fact about the struct, whichever target
/// (or cast) reaches it: such a member is a pointer column, and a pointer slot of any struct
/// value holding it.
pub fn holds_address(owner: &str, member: &str) -> bool {
    QUIRKS
        .iter()
        .flat_map(|q| q.address_members)
        .chain(ADDRESS_INTEGERS)
        .any(|&(s, m)| s == owner && m == member)
}

impl Binder<'_> {
    /// An extra condition for targets that need one, ANDed into the user's filter.
    pub(super) fn quirk_filter(
        &mut self,
        prog_name: &str,
        span: Span,
    ) -> Result<Option<TExpr>, Diagnostic> {
        if !quirks_of(&self.target.name).lists_own_program {
            return Ok(None);
        }
        // `bpf_prog_` + 16 hex digits of the tag + `_` + program name: fixed offsets.
        let name = self.member_of_main("name", span)?;
        let (TKind::Place { ptr, offset }, Ty::Chars { len }) = (&name.kind, &name.ty) else {
            return Ok(None);
        };
        let prefix = TExpr {
            kind: TKind::Like {
                text: Box::new(name.clone()),
                pattern: b"bpf_prog_%".to_vec(),
                negated: false,
            },
            ty: Ty::Bool,
            span,
        };
        let tail_offset = 9 + 16;
        let suffix = format!("_{prog_name}").into_bytes();
        let tail = TExpr {
            kind: TKind::Place {
                ptr: ptr.clone(),
                offset: offset + tail_offset,
            },
            ty: Ty::Chars {
                len: len - tail_offset,
            },
            span,
        };
        let own = TExpr {
            kind: TKind::TextEq {
                text: Box::new(tail),
                literal: suffix,
                negated: false,
            },
            ty: Ty::Bool,
            span,
        };
        let both = TExpr {
            kind: TKind::And(Box::new(prefix), Box::new(own)),
            ty: Ty::Bool,
            span,
        };
        Ok(Some(TExpr {
            kind: TKind::Not(Box::new(both)),
            ty: Ty::Bool,
            span,
        }))
    }

    fn member_of_main(&mut self, member: &str, span: Span) -> Result<TExpr, Diagnostic> {
        let object = self
            .main_object(span)?
            .ok_or_else(|| super::internal(span, "ksym without an object"))?;
        self.member(object, member, span)
    }
}
