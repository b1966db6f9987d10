//! Stage `emit`, step 2: linear-scan register allocation over live intervals. Guarantees: two
//! values whose intervals overlap never share a register; a value live across a helper call is
//! in R6-R9 or on the stack; R0 and R5 are never allocated (they are the emitter's scratch).

use super::liveness::Liveness;
use crate::bpf::insn::Reg;
use crate::ir::Value;
use cranelift_entity::EntityRef;

/// Where a value lives for its whole lifetime.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Location {
    Reg(Reg),
    /// Index of an 8-byte stack slot below the row buffer.
    Spill(u32),
}

/// Caller-saved registers first: they are free across the common call-free stretches.
const ANY: [Reg; 8] = [
    Reg::R1,
    Reg::R2,
    Reg::R3,
    Reg::R4,
    Reg::R6,
    Reg::R7,
    Reg::R8,
    Reg::R9,
];
const CALLEE_SAVED: [Reg; 4] = [Reg::R6, Reg::R7, Reg::R8, Reg::R9];

pub struct Allocation {
    pub locations: Vec<Location>,
    pub spill_slots: u32,
}

pub fn allocate(liveness: &Liveness) -> Allocation {
    let count = liveness.intervals.len();
    let mut order: Vec<usize> = (0..count)
        .filter(|&i| liveness.intervals[i].start != u32::MAX)
        .collect();
    order.sort_by_key(|&i| (liveness.intervals[i].start, i));

    let mut locations = vec![Location::Spill(u32::MAX); count];
    let mut active: Vec<(usize, Reg)> = Vec::new();
    let mut spill_slots = 0u32;

    for index in order {
        let here = liveness.intervals[index];
        active.retain(|&(other, _)| liveness.intervals[other].end >= here.start);
        let needs_callee_saved = liveness.crosses_call(Value::new(index));
        let in_use = |reg: Reg, active: &[(usize, Reg)]| active.iter().any(|&(_, r)| r == reg);
        let candidates: &[Reg] = if needs_callee_saved {
            &CALLEE_SAVED
        } else {
            &ANY
        };
        // Take over the register of an operand that dies here: `dst op= rhs` then needs no move.
        let inherited = liveness.reuse[index].and_then(|operand| {
            let operand = operand.index();
            let dies_here = liveness.intervals[operand].end == here.start;
            match locations[operand] {
                Location::Reg(reg) if dies_here && candidates.contains(&reg) => {
                    Some((operand, reg))
                }
                _ => None,
            }
        });
        if let Some((operand, reg)) = inherited {
            active.retain(|&(other, _)| other != operand);
            locations[index] = Location::Reg(reg);
            active.push((index, reg));
            continue;
        }
        if let Some(&reg) = candidates.iter().find(|&&r| !in_use(r, &active)) {
            locations[index] = Location::Reg(reg);
            active.push((index, reg));
            continue;
        }
        // No register free: give the register to whichever interval ends later, spill the other.
        let victim = active
            .iter()
            .enumerate()
            .filter(|(_, (_, reg))| candidates.contains(reg))
            .max_by_key(|(_, (other, _))| liveness.intervals[*other].end)
            .map(|(pos, &(other, reg))| (pos, other, reg));
        match victim {
            Some((pos, other, reg)) if liveness.intervals[other].end > here.end => {
                locations[other] = Location::Spill(spill_slots);
                spill_slots += 1;
                active.remove(pos);
                locations[index] = Location::Reg(reg);
                active.push((index, reg));
            }
            _ => {
                locations[index] = Location::Spill(spill_slots);
                spill_slots += 1;
            }
        }
    }
    Allocation {
        locations,
        spill_slots,
    }
}
