//! Stage `lower`: a `d_path` column. Guarantees the helper gets the address of the `struct path`
//! as a BTF pointer (the verifier refuses a probe-read address), and that a failed call or a
//! NULL pointer on the way makes the column NULL rather than leaving the helper's partial bytes.

use super::{internal, Lowerer};
use crate::bind::{TExpr, TKind};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::ir::{Cmp, Inst, Operand, Terminator};

impl Lowerer<'_> {
    /// Writes the path of `path` (a `struct path` place) into the row at `row_offset`.
    pub(super) fn store_d_path(
        &mut self,
        path: &TExpr,
        row_offset: u32,
        max: u32,
    ) -> Result<(), Diagnostic> {
        let TKind::Place { ptr, offset } = &path.kind else {
            return Err(internal("d_path of something that is not in memory"));
        };
        let base = self.pointer(ptr)?;
        if self.probed.contains(&base) {
            return Err(Diagnostic::error(
                codes::UNSUPPORTED,
                "d_path of a struct path reached through memory read with bpf_probe_read_kernel",
            )
            .with_primary(
                path.span,
                "the kernel's bpf_d_path needs a BTF pointer here",
            )
            .with_note("reach the struct file through pointers the verifier can follow"));
        }
        let src_offset = i32::try_from(*offset).map_err(|_| internal("offset too large"))?;
        let written = self.b.value(Inst::DPathToRow {
            offset: row_offset,
            base,
            src_offset,
            len: max,
        });
        // A negative return (-ENAMETOOLONG...) is an error: the column's NULL path. Outside a
        // nullable column (a d_path column always has a flag) there is nowhere to go.
        let Some(target) = &mut self.on_null else {
            return Err(internal("d_path column without a NULL flag"));
        };
        let null_block = *target.get_or_insert_with(|| self.b.create_block());
        let next = self.b.create_block();
        self.b.terminate(Terminator::Branch {
            cmp: Cmp::SLt,
            lhs: written,
            rhs: Operand::Imm(0),
            then_to: null_block,
            else_to: next,
        });
        self.b.switch_to(next);
        Ok(())
    }
}
