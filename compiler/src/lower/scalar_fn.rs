//! Stage `lower`: the scalar built-ins (`scalar_fn::ScalarFn`) as IR. Guarantees each computes
//! what `ScalarFn::eval` computes in user space, so the map walk's rows and the program's agree.

use super::Lowerer;
use crate::bind::TExpr;
use crate::diagnostic::Diagnostic;
use crate::ir::{Inst, Terminator, Value};
use crate::scalar_fn::ScalarFn;

impl Lowerer<'_> {
    /// The register value of `func(args)`.
    pub(super) fn call(&mut self, func: ScalarFn, args: &[TExpr]) -> Result<Value, Diagnostic> {
        match (func, args) {
            // A branch on the condition; each arm stores its value in one slot.
            (ScalarFn::If, [cond, then, otherwise]) => {
                let slot = self.b.new_slot();
                let (yes, no, join) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.cond(cond, yes, no)?;
                for (block, arm) in [(yes, then), (no, otherwise)] {
                    self.b.switch_to(block);
                    let value = self.operand(arm)?;
                    self.b.effect(Inst::SlotStore { slot, value });
                    self.b.terminate(Terminator::Jump(join));
                }
                self.b.switch_to(join);
                Ok(self.b.value(Inst::SlotLoad { slot }))
            }
            (ScalarFn::If, _) => Err(super::internal("`if` without 3 arguments")),
        }
    }
}
