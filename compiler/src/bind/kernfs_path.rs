//! Stage `bind`: the builtin `kernfs_path(<struct kernfs_node *>)`, a cgroup's path from the
//! cgroup2 root as /sys/fs/cgroup shows it, built from the node's names up its parent chain.
//! Guarantees the argument points to a `struct kernfs_node` whose BTF has a parent pointer
//! (`__parent` since Linux 6.15, `parent` before) and a `name`, or a coded diagnostic.

use super::{Binder, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::layout::PathShown;
use crate::syntax::ast::Expr;

/// Names the program copies, from the node up: a deeper path is NULL, never a cut one.
pub const KERNFS_PATH_LEVELS: u32 = 8;
/// Bytes of one name's slot with its NUL. A name that fills its slot may have been cut, so it
/// makes the column NULL: names up to `KERNFS_NAME_SLOT - 2` bytes print.
pub const KERNFS_NAME_SLOT: u32 = 40;

/// Names a `container` column copies: the leaf and three parents, as deep as a Kubernetes
/// container's cgroup (`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`).
pub const CONTAINER_PATH_LEVELS: u32 = 4;
/// Bytes of a `container` column's name slot: `cri-containerd-<64 hex>.scope` (85 bytes) fits,
/// and 4 slots stay within one row segment.
pub const CONTAINER_NAME_SLOT: u32 = 88;

/// A `kernfs_path` value as a `container` column: the same walk, with slots wide enough for
/// container runtimes' scope names, shown as the container it names.
pub(super) fn as_container(path: TExpr) -> Option<TExpr> {
    matches!(path.ty, Ty::KernfsPath { .. }).then(|| TExpr {
        ty: Ty::KernfsPath {
            levels: CONTAINER_PATH_LEVELS,
            slot: CONTAINER_NAME_SLOT,
            shown: PathShown::Container,
        },
        ..path
    })
}

impl Binder<'_> {
    pub(super) fn bind_kernfs_path(&mut self, arg: &Expr, span: Span) -> Result<TExpr, Diagnostic> {
        let node = self.bind_expr(arg)?;
        let is_node = match &node.ty {
            Ty::Ptr { pointee } => self.env.btf.name_of(*pointee) == Some("kernfs_node"),
            _ => false,
        };
        if !is_node {
            let found = match &node.ty {
                Ty::Ptr { pointee } => format!(
                    "a pointer to {}",
                    bpfq_kernel::catalogue::type_name(self.env.btf, *pointee)
                ),
                other => other.a(),
            };
            return Err(Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!("`kernfs_path` needs a struct kernfs_node pointer, found {found}"),
            )
            .with_primary(arg.span, "not a kernfs node")
            .with_note("pass the kn member of a struct cgroup, e.g. kernfs_path(cgroup.kn)"));
        }
        // Linux 6.15 renamed `parent` to `__parent` (it became RCU-protected).
        let parent = match self.member(node.clone(), "__parent", arg.span) {
            Ok(parent) => parent,
            Err(_) => self.member(node.clone(), "parent", arg.span).map_err(|_| {
                Diagnostic::error(
                    codes::UNKNOWN_MEMBER,
                    "`struct kernfs_node` has no parent pointer: neither `__parent` nor `parent`",
                )
                .with_primary(arg.span, "its parent chain cannot be walked")
                .with_note("Linux 6.15 and later call it `__parent`, earlier kernels `parent`")
            })?,
        };
        let name = self.member(node.clone(), "name", arg.span)?;
        let (parent_offset, name_offset) = match (&parent.kind, &name.kind) {
            (TKind::Load { offset: p, .. }, TKind::Load { offset: n, .. })
                if matches!(parent.ty, Ty::Ptr { .. }) && matches!(name.ty, Ty::Ptr { .. }) =>
            {
                (*p, *n)
            }
            _ => {
                return Err(Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    "this kernel's struct kernfs_node has no parent and name pointers",
                )
                .with_primary(arg.span, "unexpected struct kernfs_node layout"))
            }
        };
        Ok(TExpr {
            kind: TKind::KernfsPath {
                node: Box::new(node),
                parent_offset,
                name_offset,
            },
            ty: Ty::KernfsPath {
                levels: KERNFS_PATH_LEVELS,
                slot: KERNFS_NAME_SLOT,
                shown: PathShown::Path,
            },
            span,
        })
    }
}
