//! Stage `lower`: a `kernfs_path` column, unrolled. Guarantees the row holds the count of names
//! copied and each name NUL-terminated in its slot, and that a walk that does not reach the root
//! within the slots, a failed read or a name that fills its slot makes the column NULL, so user
//! space never joins a wrong path.

use super::{internal, Lowerer};
use crate::bind::TExpr;
use crate::diagnostic::Diagnostic;
use crate::ir::{Cmp, Inst, Operand, Terminator, Value, Width};
use crate::layout::KERNFS_PATH_HEADER;

/// Where the walk reads and how much of the row it fills.
pub(super) struct KernfsWalk {
    pub parent_offset: u32,
    pub name_offset: u32,
    pub levels: u32,
    pub slot: u32,
}

impl Lowerer<'_> {
    /// Writes the path of the kernfs node `node` into the row at `row_offset`.
    pub(super) fn store_kernfs_path(
        &mut self,
        node: &TExpr,
        row_offset: u32,
        walk: KernfsWalk,
    ) -> Result<(), Diagnostic> {
        let crate::bind::Ty::Ptr { pointee } = node.ty else {
            return Err(internal("kernfs_path of something that is not a pointer"));
        };
        let mut current = self.pointer(node)?;
        let Some(target) = &mut self.on_null else {
            return Err(internal("kernfs_path column without a NULL flag"));
        };
        let null_block = *target.get_or_insert_with(|| self.b.create_block());
        let done = self.b.create_block();
        for level in 0..=walk.levels {
            let parent = self.load_node_pointer(current, walk.parent_offset, pointee)?;
            // No parent: `current` is the root, whose name is not part of the path.
            let at_root = self.b.create_block();
            let next = self.b.create_block();
            self.b.terminate(Terminator::Branch {
                cmp: Cmp::Eq,
                lhs: parent,
                rhs: Operand::Imm(0),
                then_to: at_root,
                else_to: next,
            });
            self.b.switch_to(at_root);
            self.b.effect(Inst::StoreRow {
                offset: row_offset,
                width: Width::B1,
                value: Operand::Imm(level as i32),
            });
            self.b.terminate(Terminator::Jump(done));
            self.b.switch_to(next);
            if level == walk.levels {
                // Deeper than the slots: the path would be cut.
                self.b.terminate(Terminator::Jump(null_block));
                break;
            }
            let name = self.load_node_pointer(current, walk.name_offset, pointee)?;
            let written = self.b.value(Inst::ProbeStrToRow {
                offset: row_offset + KERNFS_PATH_HEADER + level * walk.slot,
                base: name,
                len: walk.slot,
            });
            // The length with its NUL: below 1 is a failed read, `slot` may be a cut name.
            self.branch_to(Cmp::SLt, written, 1, null_block);
            self.branch_to(Cmp::SGe, written, walk.slot as i32, null_block);
            current = parent;
        }
        self.b.switch_to(done);
        Ok(())
    }

    /// Goes to `to` when `lhs cmp imm` holds, else continues in a new block.
    pub(super) fn branch_to(&mut self, cmp: Cmp, lhs: Value, imm: i32, to: crate::ir::Block) {
        let next = self.b.create_block();
        self.b.terminate(Terminator::Branch {
            cmp,
            lhs,
            rhs: Operand::Imm(imm),
            then_to: to,
            else_to: next,
        });
        self.b.switch_to(next);
    }

    /// The pointer at `base + offset` of a kernfs node, loaded directly when the verifier's BTF
    /// walk allows it, else with `bpf_probe_read_kernel`.
    fn load_node_pointer(
        &mut self,
        base: Value,
        offset: u32,
        node_type: bpfq_kernel::TypeId,
    ) -> Result<Value, Diagnostic> {
        let offset = i32::try_from(offset).map_err(|_| internal("offset too large"))?;
        let value = if self.direct(base, offset, 8) {
            self.b.value(Inst::Load {
                base,
                offset,
                width: Width::B8,
                signed: false,
            })
        } else {
            self.probe_pointer(base, offset)
        };
        self.pointee_of.insert(value, node_type);
        Ok(value)
    }
}
