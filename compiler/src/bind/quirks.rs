//! Stage `bind`: corrections for iterators whose raw output is not what a user should see, read
//! from the target's catalogue record (`TargetFacts`). A target that lists its own program
//! (ksym: `bpf_prog_<tag>_bpfq_ksym`) gets a filter added here in the kernel that skips it;
//! integers that hold kernel addresses (the catalogue's `ADDRESS_MEMBERS`) are typed here as
//! pointers, so they are hidden like one.

use super::{Binder, BoundTarget, TExpr, TKind, Ty};
use crate::diagnostic::{Diagnostic, Span};
use bpfq_kernel::catalogue::{facts_of, TargetFacts, ADDRESS_MEMBERS};

impl BoundTarget {
    /// What bpfq knows of this target beyond its BTF (`IterTarget::facts`).
    pub fn facts(&self) -> &'static TargetFacts {
        facts_of(&self.name)
    }
}

/// Whether member `member` of struct `owner` holds a kernel address in an integer
/// (`ADDRESS_MEMBERS`): such a member is a pointer column, and a pointer slot of any struct
/// value holding it.
pub fn holds_address(owner: &str, member: &str) -> bool {
    ADDRESS_MEMBERS
        .iter()
        .any(|&(s, m)| s == owner && m == member)
}

impl Binder<'_> {
    /// An extra condition for targets that need one, ANDed into the user's filter.
    pub(super) fn quirk_filter(
        &mut self,
        prog_name: &str,
        span: Span,
    ) -> Result<Option<TExpr>, Diagnostic> {
        if !self.target.facts().lists_own_program {
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
        let object = self.main_object(span)?.ok_or_else(|| {
            super::internal(span, "a target listing its own program without an object")
        })?;
        self.member(object, member, span)
    }
}
