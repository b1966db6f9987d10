//! Stage `bind`: the builtin `d_path(<struct path>)`, a file's path as the kernel's `d_path()`
//! prints it (`/proc/PID/fd/N` links, /proc/PID/maps), computed by the helper `bpf_d_path`, or
//! by a dentry walk where the kernel refuses the helper (before 5.12 in iterators; of a path
//! behind a loaded pointer such as `vma->vm_file` where the verifier does not trust it).
//! Guarantees the argument is a `struct path` in kernel memory (a member such as
//! `file.f_path`, whose address the helper takes), or a coded diagnostic at the argument; a
//! walk gets every offset it reads from the BTF, or a coded diagnostic.

use super::{Binder, DPathWalkReason, DentryWalk, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::Expr;
use bpfq_kernel::{Btf, Kind, TypeId};

/// Names a dentry walk copies, from the file up; a deeper path shows its last names after a
/// leading `…/`.
pub const D_PATH_WALK_LEVELS: u32 = 8;
/// Bytes of one name's slot in a dentry walk, with its NUL. A name that fills its slot may
/// have been cut, so it makes the column NULL: names up to `D_PATH_WALK_SLOT - 2` bytes print.
pub const D_PATH_WALK_SLOT: u32 = 44;

/// Bytes of a `d_path` column, with its NUL. A longer path makes the helper fail with
/// -ENAMETOOLONG and the column is NULL (a truncated path would look like another file).
pub const D_PATH_MAX: u32 = 256;

impl Binder<'_> {
    pub(super) fn bind_d_path(&mut self, arg: &Expr, span: Span) -> Result<TExpr, Diagnostic> {
        let bound = self.bind_expr(arg)?;
        let path_struct = match (&bound.kind, &bound.ty) {
            (TKind::Place { .. }, Ty::Struct { id })
                if self.env.btf.name_of(*id) == Some("path") =>
            {
                Some(*id)
            }
            _ => None,
        };
        let Some(path_struct) = path_struct else {
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
        };
        let through_loaded_pointer = match &bound.kind {
            TKind::Place { ptr, .. } => !matches!(ptr.kind, TKind::CtxField { .. }),
            _ => false,
        };
        let features = self.env.features;
        let why = if !features.d_path_in_iter {
            Some(DPathWalkReason::NotInIterators)
        } else if through_loaded_pointer && !features.vma_file_path_trusted {
            Some(DPathWalkReason::LoadedPointer)
        } else {
            None
        };
        if let Some(why) = why {
            let walk = walk_offsets(self.env.btf, path_struct, why).map_err(|missing| {
                Diagnostic::error(
                    codes::UNKNOWN_MEMBER,
                    format!("this kernel's BTF has no {missing}, which a dentry walk reads"),
                )
                .with_primary(span, "this path cannot be built without bpf_d_path")
                .with_note(walk_note(why))
            })?;
            return Ok(TExpr {
                kind: TKind::DentryPath {
                    path: Box::new(bound),
                    walk,
                },
                ty: Ty::DentryPath {
                    levels: D_PATH_WALK_LEVELS,
                    slot: D_PATH_WALK_SLOT,
                },
                span,
            });
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

/// Why the walk is used, in words (diagnostics, `explain`).
pub fn walk_note(why: DPathWalkReason) -> &'static str {
    match why {
        DPathWalkReason::NotInIterators => "this kernel refuses bpf_d_path in iterator programs",
        DPathWalkReason::LoadedPointer => {
            "this kernel refuses bpf_d_path of a struct path behind a loaded pointer (vm_file)"
        }
    }
}

/// The offsets of every member the walk reads, or the name of the first one missing.
fn walk_offsets(btf: &Btf, path: TypeId, why: DPathWalkReason) -> Result<DentryWalk, String> {
    let found = btf.find_many(&[
        (Kind::Struct, "dentry"),
        (Kind::Struct, "vfsmount"),
        (Kind::Struct, "mount"),
        (Kind::Struct, "super_block"),
        (Kind::Struct, "inode"),
        (Kind::Struct, "file_system_type"),
    ]);
    let named = |i: usize, name: &str| found[i].ok_or_else(|| format!("struct {name}"));
    let (dentry, vfsmount, mount, super_block) = (
        named(0, "dentry")?,
        named(1, "vfsmount")?,
        named(2, "mount")?,
        named(3, "super_block")?,
    );
    let (inode, fs_type) = (named(4, "inode")?, named(5, "file_system_type")?);
    let (d_name, qstr) = member(btf, dentry, "dentry", "d_name")?;
    let (d_hash, hash_node) = member(btf, dentry, "dentry", "d_hash")?;
    Ok(DentryWalk {
        path_mnt: member(btf, path, "path", "mnt")?.0,
        path_dentry: member(btf, path, "path", "dentry")?.0,
        d_parent: member(btf, dentry, "dentry", "d_parent")?.0,
        d_name: d_name + member(btf, qstr, "qstr", "name")?.0,
        d_hash_pprev: d_hash + member(btf, hash_node, "hlist_bl_node", "pprev")?.0,
        d_sb: member(btf, dentry, "dentry", "d_sb")?.0,
        d_inode: member(btf, dentry, "dentry", "d_inode")?.0,
        i_ino: member(btf, inode, "inode", "i_ino")?.0,
        // Linux 6.17 renamed it `__s_d_op` (set through set_default_d_op()).
        s_d_op: member(btf, super_block, "super_block", "__s_d_op")
            .or_else(|_| member(btf, super_block, "super_block", "s_d_op"))?
            .0,
        s_type: member(btf, super_block, "super_block", "s_type")?.0,
        fs_name: member(btf, fs_type, "file_system_type", "name")?.0,
        mnt_root: member(btf, vfsmount, "vfsmount", "mnt_root")?.0,
        mount_mnt: member(btf, mount, "mount", "mnt")?.0,
        mnt_parent: member(btf, mount, "mount", "mnt_parent")?.0,
        mnt_mountpoint: member(btf, mount, "mount", "mnt_mountpoint")?.0,
        why,
    })
}

/// The byte offset and (resolved) type of member `name` of the struct `id`, which must be a
/// byte-aligned member, not a bitfield.
fn member(btf: &Btf, id: TypeId, owner: &str, name: &str) -> Result<(u32, TypeId), String> {
    let missing = || format!("member `{name}` of struct {owner}");
    let found = btf.member(id, name).ok().flatten().ok_or_else(missing)?;
    if found.bitfield_size.is_some() || found.bit_offset % 8 != 0 {
        return Err(missing());
    }
    let ty = btf.resolve(found.type_id).map_err(|_| missing())?;
    Ok((found.bit_offset / 8, ty))
}
