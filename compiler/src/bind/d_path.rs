//! Stage `bind`: the builtin `d_path(<struct path>)`, a file's path as the kernel's `d_path()`
//! prints it (`/proc/PID/fd/N` links, /proc/PID/maps), computed by the helper `bpf_d_path`.
//! Guarantees the argument is a `struct path` in kernel memory (a member such as
//! `file.f_path`, whose address the helper takes), or a coded diagnostic at the argument.

use super::{Binder, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::Expr;

/// Bytes of a `d_path` column, with its NUL. A longer path makes the helper fail with
/// -ENAMETOOLONG and the column is NULL (a truncated path would look like another file).
pub const D_PATH_MAX: u32 = 256;

impl Binder<'_> {
    pub(super) fn bind_d_path(&mut self, args: &[Expr], span: Span) -> Result<TExpr, Diagnostic> {
        let [arg] = args else {
            return Err(Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!(
                    "`d_path` takes 1 argument (a struct path), not {}",
                    args.len()
                ),
            )
            .with_primary(span, "here")
            .with_note(
                "e.g. d_path(file.f_path) on task_file, d_path(vma.vm_file.f_path) on task_vma",
            ));
        };
        let bound = self.bind_expr(arg)?;
        let is_path = match (&bound.kind, &bound.ty) {
            (TKind::Place { .. }, Ty::Struct { id }) => self.env.btf.name_of(*id) == Some("path"),
            _ => false,
        };
        if !is_path {
            let found = match &bound.ty {
                Ty::Struct { id } => format!(
                    "struct {}",
                    self.env.btf.name_of(*id).unwrap_or("(anonymous)")
                ),
                other => other.a(),
            };
            return Err(Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!("`d_path` needs a struct path, found {found}"),
            )
            .with_primary(arg.span, "not a struct path")
            .with_note("pass the path member of a struct file, e.g. d_path(file.f_path)"));
        }
        Ok(TExpr {
            kind: TKind::DPath {
                path: Box::new(bound),
                max: D_PATH_MAX,
            },
            ty: Ty::Chars { len: D_PATH_MAX },
            span,
        })
    }
}
