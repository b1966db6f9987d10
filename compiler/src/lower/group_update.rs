//! Stage `lower`, kernel grouping: after the row is built on the stack, the program copies the
//! group key out of it, looks the group up in the `MapRef::Groups` hash map and either inserts
//! the object's own accumulators (a new group) or adds the object to the group's accumulators
//! in place. Guarantees: the program writes no seq output except a 1-byte marker when the map
//! is full (user space then walks again with a larger map), so the kernel never stops a walk at
//! a full seq buffer and never re-runs an object that already updated its group; every key and
//! value byte handed to a map helper is initialised; NULL arguments change nothing but
//! `count(*)`.

use super::Lowerer;
use crate::bind::AggFunc;
use crate::group_place::{AggSlots, ArgInRow, KernelGrouping};
use crate::ir::{BinOp, Block, Cmp, Inst, MapRef, Operand, Terminator, UnOp, Value, Width};
use crate::plan::Plan;

/// The widest chunk that starts aligned at both offsets and fits in `left` bytes.
fn chunk(from: u32, to: u32, left: u32) -> Width {
    [Width::B8, Width::B4, Width::B2]
        .into_iter()
        .find(|w| {
            let n = w.bytes();
            n <= left && from.is_multiple_of(n) && to.is_multiple_of(n)
        })
        .unwrap_or(Width::B1)
}

impl Lowerer<'_> {
    /// Emits the map update of one matching object, ending in jumps to `exit`.
    pub(super) fn group_update(&mut self, plan: &Plan, k: &KernelGrouping, exit: Block) {
        self.b
            .note("group key: zero it, then copy the key columns out of the row");
        for word in (0..k.key_size).step_by(8) {
            self.b.effect(Inst::StoreRow {
                offset: k.key_offset + word,
                width: Width::B8,
                value: Operand::Imm(0),
            });
        }
        for part in &k.key_parts {
            let mut done = 0;
            while done < part.len {
                let (from, to) = (
                    part.row_offset + done,
                    k.key_offset + part.key_offset + done,
                );
                let width = chunk(from, to, part.len - done);
                let value = self.b.value(Inst::LoadRow {
                    offset: from,
                    width,
                    signed: false,
                });
                self.b.effect(Inst::StoreRow {
                    offset: to,
                    width,
                    value: Operand::Value(value),
                });
                done += width.bytes();
            }
        }
        for flag in &k.key_flags {
            let value = self.b.value(Inst::LoadRow {
                offset: flag.row_offset,
                width: Width::B1,
                signed: false,
            });
            self.b.effect(Inst::StoreRow {
                offset: k.key_offset + flag.key_offset,
                width: Width::B1,
                value: Operand::Value(value),
            });
        }
        self.b.note("look the group up in the group map");
        let found = self.b.value(Inst::MapLookup {
            map: MapRef::Groups,
            key: k.key_offset,
        });
        let new_group = self.b.create_block();
        let update = self.b.create_block();
        self.b.terminate(Terminator::Branch {
            cmp: Cmp::Eq,
            lhs: found,
            rhs: Operand::Imm(0),
            then_to: new_group,
            else_to: update,
        });

        self.b.switch_to(new_group);
        self.first_values(k);
        self.b
            .note("insert the new group (fails only when the map is full)");
        let status = self.b.value(Inst::MapInsert {
            map: MapRef::Groups,
            key: k.key_offset,
            value: k.value_offset,
        });
        let full = self.b.create_block();
        self.b.terminate(Terminator::Branch {
            cmp: Cmp::Ne,
            lhs: status,
            rhs: Operand::Imm(0),
            then_to: full,
            else_to: exit,
        });

        // Iterator programs run one at a time per iterator and this map is the command's own,
        // so a plain read-modify-write of the value cannot race.
        self.b.switch_to(update);
        for slots in &k.aggregates {
            self.add_to_group(found, slots);
        }
        self.b.terminate(Terminator::Jump(exit));

        self.b.switch_to(full);
        self.b
            .note("the group map is full: write a 1-byte marker to the seq buffer");
        self.seq_write(plan, 1);
        self.b.terminate(Terminator::Jump(exit));
    }

    /// The argument widened to 64 bits (0 for `count`, which needs only its NULL flag), and 1
    /// when it is not NULL (0 when it is).
    fn argument(&mut self, arg: &ArgInRow, func: AggFunc) -> (Value, Option<Value>) {
        let width = Width::from_bytes(u32::from(arg.bytes)).unwrap_or(Width::B8);
        let value = if func == AggFunc::Count {
            self.b.value(Inst::Const(0))
        } else {
            self.b.value(Inst::LoadRow {
                offset: arg.offset,
                width,
                signed: arg.signed,
            })
        };
        let present = arg.null_flag.map(|flag| {
            let null = self.b.value(Inst::LoadRow {
                offset: flag,
                width: Width::B1,
                signed: false,
            });
            self.b.value(Inst::Binary {
                op: BinOp::Xor,
                lhs: null,
                rhs: Operand::Imm(1),
            })
        });
        (value, present)
    }

    /// The value slots of a new group: this object's own accumulators, without branches (a NULL
    /// argument counts 0 and contributes 0).
    fn first_values(&mut self, k: &KernelGrouping) {
        for slots in &k.aggregates {
            let slot = |i: u32| k.value_offset + 8 * (slots.first + i);
            self.b
                .note(format!("new group: first {} state", slots.func.name()));
            let Some(arg) = &slots.arg else {
                self.b.effect(Inst::StoreRow {
                    offset: slot(0),
                    width: Width::B8,
                    value: Operand::Imm(1),
                });
                continue;
            };
            let (value, present) = self.argument(arg, slots.func);
            if slots.func == AggFunc::Count {
                self.b.effect(Inst::StoreRow {
                    offset: slot(0),
                    width: Width::B8,
                    value: present.map_or(Operand::Imm(1), Operand::Value),
                });
                continue;
            }
            let (count, value) = match present {
                None => (Operand::Imm(1), value),
                Some(present) => {
                    let mask = self.b.value(Inst::Unary {
                        op: UnOp::Neg,
                        arg: present,
                    });
                    let masked = self.b.value(Inst::Binary {
                        op: BinOp::And,
                        lhs: value,
                        rhs: Operand::Value(mask),
                    });
                    (Operand::Value(present), masked)
                }
            };
            self.b.effect(Inst::StoreRow {
                offset: slot(0),
                width: Width::B8,
                value: count,
            });
            self.b.effect(Inst::StoreRow {
                offset: slot(1),
                width: Width::B8,
                value: Operand::Value(value),
            });
            if slots.func == AggFunc::Avg {
                // High word of the 128-bit sum: the sign extension of a signed value.
                let high = if arg.signed {
                    Operand::Value(self.b.value(Inst::Binary {
                        op: BinOp::AShr,
                        lhs: value,
                        rhs: Operand::Imm(63),
                    }))
                } else {
                    Operand::Imm(0)
                };
                self.b.effect(Inst::StoreRow {
                    offset: slot(2),
                    width: Width::B8,
                    value: high,
                });
            }
        }
    }

    fn load_slot(&mut self, group: Value, slot: u32) -> Value {
        self.b.value(Inst::Load {
            base: group,
            offset: 8 * slot as i32,
            width: Width::B8,
            signed: false,
        })
    }

    fn store_slot(&mut self, group: Value, slot: u32, value: Value) {
        self.b.effect(Inst::Store {
            base: group,
            offset: 8 * slot as i32,
            width: Width::B8,
            value: Operand::Value(value),
        });
    }

    /// `slot += by` in the group's value.
    fn add_slot(&mut self, group: Value, slot: u32, by: Operand) {
        let old = self.load_slot(group, slot);
        let new = self.b.value(Inst::Binary {
            op: BinOp::Add,
            lhs: old,
            rhs: by,
        });
        self.store_slot(group, slot, new);
    }

    /// Adds this object to aggregate `slots` of the group at `group` (a map value pointer).
    fn add_to_group(&mut self, group: Value, slots: &AggSlots) {
        self.b
            .note(format!("existing group: update {}", slots.func.name()));
        let Some(arg) = &slots.arg else {
            self.add_slot(group, slots.first, Operand::Imm(1));
            return;
        };
        let (value, present) = self.argument(arg, slots.func);
        let next = self.b.create_block();
        if let Some(present) = present {
            let body = self.b.create_block();
            self.b.terminate(Terminator::Branch {
                cmp: Cmp::Eq,
                lhs: present,
                rhs: Operand::Imm(0),
                then_to: next,
                else_to: body,
            });
            self.b.switch_to(body);
        }
        let count = self.load_slot(group, slots.first);
        let counted = self.b.value(Inst::Binary {
            op: BinOp::Add,
            lhs: count,
            rhs: Operand::Imm(1),
        });
        self.store_slot(group, slots.first, counted);
        match slots.func {
            AggFunc::Count => {}
            AggFunc::Sum => self.add_slot(group, slots.first + 1, Operand::Value(value)),
            AggFunc::Avg => {
                let low = self.load_slot(group, slots.first + 1);
                let sum = self.b.value(Inst::Binary {
                    op: BinOp::Add,
                    lhs: low,
                    rhs: Operand::Value(value),
                });
                self.store_slot(group, slots.first + 1, sum);
                if arg.signed {
                    let sign = self.b.value(Inst::Binary {
                        op: BinOp::AShr,
                        lhs: value,
                        rhs: Operand::Imm(63),
                    });
                    self.add_slot(group, slots.first + 2, Operand::Value(sign));
                }
                // The low word wrapped: carry one into the high word.
                let carry = self.b.create_block();
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::ULt,
                    lhs: sum,
                    rhs: Operand::Value(value),
                    then_to: carry,
                    else_to: next,
                });
                self.b.switch_to(carry);
                self.add_slot(group, slots.first + 2, Operand::Imm(1));
            }
            AggFunc::Min | AggFunc::Max => {
                let better = match (slots.func, arg.signed) {
                    (AggFunc::Min, true) => Cmp::SLt,
                    (AggFunc::Min, false) => Cmp::ULt,
                    (_, true) => Cmp::SGt,
                    (_, false) => Cmp::UGt,
                };
                let compare = self.b.create_block();
                let set = self.b.create_block();
                // The first non-NULL value of the group is the best so far.
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Eq,
                    lhs: count,
                    rhs: Operand::Imm(0),
                    then_to: set,
                    else_to: compare,
                });
                self.b.switch_to(compare);
                let best = self.load_slot(group, slots.first + 1);
                self.b.terminate(Terminator::Branch {
                    cmp: better,
                    lhs: value,
                    rhs: Operand::Value(best),
                    then_to: set,
                    else_to: next,
                });
                self.b.switch_to(set);
                self.store_slot(group, slots.first + 1, value);
            }
        }
        self.b.terminate(Terminator::Jump(next));
        self.b.switch_to(next);
    }
}
