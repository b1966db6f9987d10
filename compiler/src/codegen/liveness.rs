//! Stage `emit`, step 1: linear positions and live intervals. Because every jump goes forward
//! (see `ir::Function::verify`), a value is live exactly on the closed interval from its
//! definition to its last use in layout order.

use crate::ir::{Function, Inst, Value};
use cranelift_entity::EntityRef;

/// Closed interval `[start, end]` of linear positions where a value must stay in its location.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Interval {
    pub start: u32,
    pub end: u32,
}

pub struct Liveness {
    pub intervals: Vec<Interval>,
    /// Positions of instructions that call a helper (they clobber R0-R5).
    pub calls: Vec<u32>,
    /// For a value computed in place from an operand (`dst = lhs; dst op= rhs`): that operand,
    /// whose register the value may take over when the operand dies there.
    pub reuse: Vec<Option<Value>>,
}

impl Liveness {
    pub fn compute(func: &Function) -> Liveness {
        let mut intervals = vec![
            Interval {
                start: u32::MAX,
                end: 0
            };
            func.value_count as usize
        ];
        let mut calls = Vec::new();
        let mut reuse = vec![None; func.value_count as usize];
        let mut pos = 0u32;
        let touch = |v: Value, pos: u32, intervals: &mut Vec<Interval>| {
            let iv = &mut intervals[v.index()];
            iv.start = iv.start.min(pos);
            iv.end = iv.end.max(pos);
        };
        for data in func.layout.iter().map(|&b| &func.blocks[b]) {
            for inst in &data.insts {
                for used in inst.inst.uses() {
                    touch(used, pos, &mut intervals);
                }
                if let Some(result) = inst.result {
                    touch(result, pos, &mut intervals);
                    reuse[result.index()] = match inst.inst {
                        Inst::Binary { lhs, .. } => Some(lhs),
                        Inst::Unary { arg, .. } => Some(arg),
                        Inst::CastPointer {
                            ptr, kfunc: None, ..
                        } => Some(ptr),
                        _ => None,
                    };
                }
                if inst.inst.is_call() {
                    calls.push(pos);
                }
                pos += 1;
            }
            for used in data.terminator.uses() {
                touch(used, pos, &mut intervals);
            }
            pos += 1;
        }
        Liveness {
            intervals,
            calls,
            reuse,
        }
    }

    /// Whether a helper call happens strictly inside the value's interval, so the value must
    /// live in a callee-saved register or on the stack.
    pub fn crosses_call(&self, v: Value) -> bool {
        let iv = self.intervals[v.index()];
        self.calls.iter().any(|&c| iv.start < c && c < iv.end)
    }
}
