//! Stage `bind` (helper): where a typed value can be NULL. Guarantees one answer for both uses:
//! which columns get a NULL flag in the row (`plan_layout::row_layout`) and what `x is null` tests
//! for an `x` that is not itself a pointer (the pointers loaded on the way to it).

use super::typed::{TExpr, TKind};

/// What can make a value NULL.
#[derive(Debug, Default)]
pub struct NullSources<'e> {
    /// Pointers loaded from memory on the way to the value: it is NULL when one of them is.
    pub pointers: Vec<&'e TExpr>,
    /// A helper or walk that gives NULL on failure (paths), which no comparison can test.
    pub helper: bool,
}

impl NullSources<'_> {
    pub fn any(&self) -> bool {
        self.helper || !self.pointers.is_empty()
    }
}

/// The sources of NULL in `expr`, outermost pointer last.
pub fn null_sources(expr: &TExpr) -> NullSources<'_> {
    let mut sources = NullSources::default();
    collect(expr, &mut sources);
    sources
}

fn collect<'e>(expr: &'e TExpr, sources: &mut NullSources<'e>) {
    match &expr.kind {
        TKind::Load { ptr, .. } | TKind::Place { ptr, .. } => {
            collect(ptr, sources);
            if matches!(ptr.kind, TKind::Load { .. }) {
                sources.pointers.push(ptr);
            }
        }
        TKind::StructCast { value, .. } => {
            collect(value, sources);
            if matches!(value.kind, TKind::Load { .. }) {
                sources.pointers.push(value);
            }
        }
        TKind::Neg(e) | TKind::BitNot(e) => collect(e, sources),
        TKind::Cast { value, .. } | TKind::ByteSwap { value, .. } => collect(value, sources),
        TKind::Arith { lhs, rhs, .. } => {
            collect(lhs, sources);
            collect(rhs, sources);
        }
        // A path longer than the column, a walk deeper than its slots, a name cut by its slot,
        // a failed read or a pseudo file: NULL then.
        TKind::DPath { .. } | TKind::KernfsPath { .. } | TKind::DentryPath { .. } => {
            sources.helper = true;
        }
        _ => {}
    }
}
