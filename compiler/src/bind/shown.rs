//! Stage `bind`: comparisons of a column shown as text (`Ty::Shown`: `state_letter`, `tty`).
//! Guarantees such a column is compared only with `==`/`!=`, against another of its view or a
//! string its view shows, which becomes the integer shown as it (`int_view`), so the comparison
//! runs in the kernel on integers; any other string is E0250 naming what the column shows.

use super::vma_perms::unsigned_compare;
use super::{CmpOp, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::int_view::IntView;

/// `state_letter == "Z"` (either side, or two columns of one view) as an integer comparison.
pub(super) fn compare(
    view: IntView,
    op: CmpOp,
    l: TExpr,
    r: TExpr,
    span: Span,
) -> Result<TExpr, Diagnostic> {
    if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Err(Diagnostic::error(
            codes::NOT_A_SHOWN_VALUE,
            format!(
                "a `{}` column can only be compared with `==` or `!=`",
                view.name()
            ),
        )
        .with_primary(span, "ordering comparison of text made from a number")
        .with_note(format!("compare it with {}", view.expected())));
    }
    let as_value = |e: TExpr| -> Result<TExpr, Diagnostic> {
        let TKind::Str(text) = &e.kind else {
            return Ok(TExpr {
                ty: Ty::Int {
                    bytes: 8,
                    signed: false,
                },
                ..e
            });
        };
        let value = std::str::from_utf8(text)
            .ok()
            .and_then(|text| view.value(text))
            .ok_or_else(|| {
                Diagnostic::error(
                    codes::NOT_A_SHOWN_VALUE,
                    format!("no `{}` value is shown as this text", view.name()),
                )
                .with_primary(e.span, "never shown by this column")
                .with_note(format!("expected {}", view.expected()))
            })?;
        Ok(TExpr {
            kind: TKind::Int(value),
            ty: Ty::Literal,
            span: e.span,
        })
    };
    Ok(unsigned_compare(op, as_value(l)?, as_value(r)?, span))
}
