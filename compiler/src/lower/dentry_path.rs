//! Stage `lower`: a `d_path` column built by a dentry walk, for kernels that refuse `bpf_d_path`
//! here. Guarantees every read is `bpf_probe_read_kernel` (accepted whatever the verifier thinks
//! of the pointers), the walk follows the kernel's `d_path()` (names up `d_parent`, a mount's
//! root continues at its mountpoint in the parent mount, the namespace's root mount ends it),
//! and the row holds the count of names, a byte set when the walk stopped before the root (user
//! space writes `…/` first), a byte set for a deleted file (` (deleted)`), and each name
//! NUL-terminated in its slot; for a pseudo file named by its filesystem (pipes, sockets, anon
//! inodes) a byte says so and the row holds its name, the filesystem's name and the inode
//! number instead; a failed read, a name that fills its slot or more stacked mounts than
//! `MOUNT_CROSSINGS` makes the column NULL rather than a wrong path. Not exact: the walk ends
//! at the mount namespace's root mount where the kernel's d_path ends at the reading process's
//! root (they differ under chroot), and a rename during the walk may mix old and new names
//! (the kernel retries under rename_lock; a BPF program cannot take it).

use super::{internal, Lowerer};
use crate::bind::{DentryWalk, TExpr, TKind};
use crate::diagnostic::Diagnostic;
use crate::ir::{BinOp, Cmp, Inst, Operand, Terminator, Value, Width};
use crate::layout::{DENTRY_PATH_CUT, DENTRY_PATH_DELETED, DENTRY_PATH_PSEUDO, KERNFS_PATH_HEADER};

/// Mounts crossed before one name: a mount on the root of another mount needs two; more is NULL.
pub const MOUNT_CROSSINGS: u32 = 2;

impl Lowerer<'_> {
    /// Writes the path of `path` (a `struct path` place) into the row at `row_offset`, walking
    /// at most `levels` names into slots of `slot` bytes.
    pub(super) fn store_dentry_path(
        &mut self,
        path: &TExpr,
        walk: &DentryWalk,
        row_offset: u32,
        levels: u32,
        slot: u32,
    ) -> Result<(), Diagnostic> {
        let TKind::Place { ptr, offset } = &path.kind else {
            return Err(internal("d_path of something that is not in memory"));
        };
        let at = |field: u32| i32::try_from(offset + field).map_err(|_| internal("offset"));
        let (path_dentry, path_mnt) = (at(walk.path_dentry)?, at(walk.path_mnt)?);
        let in_mount = |field: u32| field as i32 - walk.mount_mnt as i32;
        let (mnt_parent, mnt_mountpoint) =
            (in_mount(walk.mnt_parent), in_mount(walk.mnt_mountpoint));
        let base = self.pointer(ptr)?;
        let Some(target) = &mut self.on_null else {
            return Err(internal("d_path column without a NULL flag"));
        };
        let null_block = *target.get_or_insert_with(|| self.b.create_block());
        let done = self.b.create_block();
        // The dentry and the vfsmount the walk is at cross joins in two stack slots.
        let (dentry_slot, mount_slot) = (self.b.new_slot(), self.b.new_slot());
        self.b
            .note("d_path by a dentry walk: the path's dentry and vfsmount");
        let dentry = self.probe_pointer(base, path_dentry);
        let mount = self.probe_pointer(base, path_mnt);
        self.branch_to(Cmp::Eq, dentry, 0, null_block);
        self.branch_to(Cmp::Eq, mount, 0, null_block);
        self.walk_slot(dentry_slot, dentry);
        self.walk_slot(mount_slot, mount);
        for level in 0..=levels {
            let name_block = self.b.create_block();
            for crossing in 0..=MOUNT_CROSSINGS {
                self.b.note(format!(
                    "d_path walk, name {level}: the root of its mount? (check {crossing})"
                ));
                let dentry = self.b.value(Inst::SlotLoad { slot: dentry_slot });
                let mount = self.b.value(Inst::SlotLoad { slot: mount_slot });
                let root = self.probe_pointer(mount, walk.mnt_root as i32);
                let next = self.b.create_block();
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Ne,
                    lhs: dentry,
                    rhs: Operand::Value(root),
                    then_to: name_block,
                    else_to: next,
                });
                self.b.switch_to(next);
                if crossing == MOUNT_CROSSINGS {
                    // Mounts stacked deeper than the walk crosses.
                    self.b.terminate(Terminator::Jump(null_block));
                    break;
                }
                let parent = self.probe_pointer(mount, mnt_parent);
                let parent_mount = self.b.value(Inst::Binary {
                    op: BinOp::Add,
                    lhs: parent,
                    rhs: Operand::Imm(walk.mount_mnt as i32),
                });
                self.probed.insert(parent_mount);
                // A mount that is its own parent is the namespace's root: the path is complete.
                let at_root = self.b.create_block();
                let cross = self.b.create_block();
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Eq,
                    lhs: parent_mount,
                    rhs: Operand::Value(mount),
                    then_to: at_root,
                    else_to: cross,
                });
                self.b.switch_to(at_root);
                self.store_byte(row_offset, level as i32);
                self.b.terminate(Terminator::Jump(done));
                self.b.switch_to(cross);
                let mountpoint = self.probe_pointer(mount, mnt_mountpoint);
                self.walk_slot(dentry_slot, mountpoint);
                self.walk_slot(mount_slot, parent_mount);
            }
            self.b.switch_to(name_block);
            if level == levels {
                // Names left above the slots: user space shows `…/` before the last ones.
                self.b
                    .note("d_path walk: deeper than the slots, mark the path as cut");
                self.store_byte(row_offset + DENTRY_PATH_CUT, 1);
                self.store_byte(row_offset, levels as i32);
                self.b.terminate(Terminator::Jump(done));
                break;
            }
            self.b.note(format!("d_path walk, name {level}"));
            let dentry = self.b.value(Inst::SlotLoad { slot: dentry_slot });
            let parent = self.probe_pointer(dentry, walk.d_parent as i32);
            let escaped = self.b.create_block();
            let next = self.b.create_block();
            self.b.terminate(Terminator::Branch {
                cmp: Cmp::Eq,
                lhs: parent,
                rhs: Operand::Value(dentry),
                then_to: escaped,
                else_to: next,
            });
            self.b.switch_to(escaped);
            if level == 0 {
                // A dentry with no parent that is not a mount's root: a pseudo file. Without
                // the filesystem's own dentry operations it is named by `simple_dname`:
                // `/NAME (deleted)` (memfd, shared anonymous memory); else by its filesystem
                // (pipes, sockets, anon inodes): the row gets what user space needs for that.
                let sb = self.probe_pointer(dentry, walk.d_sb as i32);
                let ops = self.probe_pointer(sb, walk.s_d_op as i32);
                let simple = self.b.create_block();
                let named_by_fs = self.b.create_block();
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Eq,
                    lhs: ops,
                    rhs: Operand::Imm(0),
                    then_to: simple,
                    else_to: named_by_fs,
                });
                self.b.switch_to(named_by_fs);
                self.b
                    .note("d_path walk: a pseudo file: its name, filesystem and inode number");
                let fs_type = self.probe_pointer(sb, walk.s_type as i32);
                self.branch_to(Cmp::Eq, fs_type, 0, null_block);
                let fs_name = self.probe_pointer(fs_type, walk.fs_name as i32);
                self.copy_str(
                    fs_name,
                    row_offset + KERNFS_PATH_HEADER + slot,
                    slot,
                    null_block,
                );
                self.copy_name(dentry, walk, row_offset, 0, slot, null_block);
                let inode = self.probe_pointer(dentry, walk.d_inode as i32);
                self.branch_to(Cmp::Eq, inode, 0, null_block);
                let ino = self.probe_pointer(inode, walk.i_ino as i32);
                self.b.effect(Inst::StoreRow {
                    offset: row_offset + KERNFS_PATH_HEADER + 2 * slot,
                    width: Width::B8,
                    value: Operand::Value(ino),
                });
                self.store_byte(row_offset + DENTRY_PATH_PSEUDO, 1);
                self.store_byte(row_offset, 1);
                self.b.terminate(Terminator::Jump(done));
                self.b.switch_to(simple);
                self.copy_name(dentry, walk, row_offset, 0, slot, null_block);
                self.store_byte(row_offset + DENTRY_PATH_DELETED, 1);
                self.store_byte(row_offset, 1);
                self.b.terminate(Terminator::Jump(done));
            } else {
                // Above the file, only the kernel's own escape from a chroot gets here.
                self.b.terminate(Terminator::Jump(null_block));
            }
            self.b.switch_to(next);
            if level == 0 {
                // Unhashed (`d_hash.pprev == NULL`) and not a root: deleted, as d_unlinked().
                let pprev = self.probe_pointer(dentry, walk.d_hash_pprev as i32);
                let unlinked = self.b.create_block();
                let join = self.b.create_block();
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Eq,
                    lhs: pprev,
                    rhs: Operand::Imm(0),
                    then_to: unlinked,
                    else_to: join,
                });
                self.b.switch_to(unlinked);
                self.store_byte(row_offset + DENTRY_PATH_DELETED, 1);
                self.b.terminate(Terminator::Jump(join));
                self.b.switch_to(join);
            }
            self.copy_name(dentry, walk, row_offset, level, slot, null_block);
            self.walk_slot(dentry_slot, parent);
        }
        self.b.switch_to(done);
        Ok(())
    }

    /// `bpf_probe_read_kernel` of the pointer at `base + offset` (kernfs walks read theirs the
    /// same way where a direct load is refused).
    pub(super) fn probe_pointer(&mut self, base: Value, offset: i32) -> Value {
        let value = self.b.value(Inst::ProbeLoad {
            base,
            offset,
            width: Width::B8,
            signed: false,
        });
        self.probed.insert(value);
        value
    }

    /// The name of `dentry` into slot `level`; a failed read or a name that fills the slot
    /// (it may have been cut) goes to `null_block`.
    fn copy_name(
        &mut self,
        dentry: Value,
        walk: &DentryWalk,
        row_offset: u32,
        level: u32,
        slot: u32,
        null_block: crate::ir::Block,
    ) {
        let name = self.probe_pointer(dentry, walk.d_name as i32);
        let at = row_offset + KERNFS_PATH_HEADER + level * slot;
        self.copy_str(name, at, slot, null_block);
    }

    /// The C string at `text` into the row at `offset`, at most `slot` bytes with its NUL; a
    /// failed read or a string that fills the slot goes to `null_block`.
    fn copy_str(&mut self, text: Value, offset: u32, slot: u32, null_block: crate::ir::Block) {
        let written = self.b.value(Inst::ProbeStrToRow {
            offset,
            base: text,
            len: slot,
        });
        self.branch_to(Cmp::SLt, written, 1, null_block);
        self.branch_to(Cmp::SGe, written, slot as i32, null_block);
    }

    fn walk_slot(&mut self, slot: u32, value: Value) {
        self.b.effect(Inst::SlotStore {
            slot,
            value: Operand::Value(value),
        });
    }

    fn store_byte(&mut self, offset: u32, value: i32) {
        self.b.effect(Inst::StoreRow {
            offset,
            width: Width::B1,
            value: Operand::Imm(value),
        });
    }
}
