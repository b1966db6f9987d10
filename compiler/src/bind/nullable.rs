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
        // A read through a pointer loaded from memory: NULL when that pointer is.
        TKind::Load { ptr: inner, .. }
        | TKind::Place { ptr: inner, .. }
        | TKind::StructCast { value: inner, .. } => {
            collect(inner, sources);
            if matches!(inner.kind, TKind::Load { .. }) {
                sources.pointers.push(inner);
            }
        }
        // Integers computed from values: NULL when an operand is.
        TKind::Call { func, .. } if func.null_in_null_out() => {
            for operand in expr.children() {
                collect(operand, sources);
            }
        }
        TKind::Neg(_)
        | TKind::InetAddr { .. }
        | TKind::BitNot(_)
        | TKind::Cast { .. }
        | TKind::ByteSwap { .. }
        | TKind::Arith { .. } => {
            for operand in expr.children() {
                collect(operand, sources);
            }
        }
        // A path longer than the column, a walk deeper than its slots, a name cut by its slot,
        // a failed read or a pseudo file: NULL then.
        // Computed in user space, after the program: a filter of the program cannot see it.
        TKind::DPath { .. }
        | TKind::KernfsPath { .. }
        | TKind::DentryPath { .. }
        | TKind::UserCall { .. } => {
            sources.helper = true;
        }
        // Never NULL: constants and the context (checked at entry); a C string (the probe
        // read gives an empty string for a NULL pointer); conditions and what is chosen by
        // one, as `if` (a test of a NULL value is false, not NULL).
        TKind::CtxField { .. }
        | TKind::CtxValue { .. }
        | TKind::Int(_)
        | TKind::Str(_)
        | TKind::CString { .. }
        | TKind::Compare { .. }
        | TKind::TextEq { .. }
        | TKind::Like { .. }
        | TKind::BoolToInt { .. }
        | TKind::Call { .. }
        | TKind::And(..)
        | TKind::Or(..)
        | TKind::Not(_) => {}
    }
}
