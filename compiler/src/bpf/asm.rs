//! Stage `emit`, assembler: instructions with symbolic jump targets, resolved last.
//! Guarantees: `finish` returns a program only if every jump lands on a bound label inside the
//! program with an offset that fits the 16-bit field; `ld_imm64` counts as two slots in distances;
//! every map reference is listed as a relocation, so the loader can patch in the real map fd.

use std::fmt;

use super::insn::{Insn, JmpOp, Operand, Reg};
use crate::ir::MapRef;

/// A jump target; bind it with [`Assembler::bind`] before or after the jumps that use it.
/// Labels are numbered per assembler: one from another assembler is caught only when its number
/// is beyond this assembler's labels.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Label(u32);

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// Assembled instructions and the annotations attached to them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Program {
    pub insns: Vec<Insn>,
    /// `(slot index, note)`, in emission order. A note whose index equals `insns.len()` was
    /// attached after the last instruction.
    pub notes: Vec<(usize, String)>,
    /// Map references whose fd is only known at load time.
    pub relocations: Vec<MapRelocation>,
    /// The value of `MapRef::Formats` (a read-only array map of one element), when the program
    /// prints text; empty otherwise.
    pub formats: Vec<u8>,
}

/// The `ld_imm64` at slot `slot` loads map `map`: its `imm` holds a placeholder until the
/// loader writes the fd of the map it created there.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MapRelocation {
    pub slot: usize,
    pub map: MapRef,
}

/// The placeholder fd the compiler writes into a map reference (shown as `map[fd:-1]` by the
/// disassembler); a load that forgot to patch it fails with EBADF instead of using another fd.
pub const MAP_FD_PLACEHOLDER: i32 = -1;

impl Program {
    /// The wire form of the instructions.
    pub fn to_bytes(&self) -> Vec<u8> {
        super::insn::encode(&self.insns)
    }

    /// The wire form with each map reference patched to the fd `fd_of` gives for its map.
    pub fn to_bytes_with_maps(&self, fd_of: impl Fn(MapRef) -> i32) -> Vec<u8> {
        let mut insns = self.insns.clone();
        for relocation in &self.relocations {
            if let Some(insn) = insns.get_mut(relocation.slot) {
                insn.imm = fd_of(relocation.map);
            }
        }
        super::insn::encode(&insns)
    }

    /// The note in force at instruction `index`: the last one attached at or before it. It names
    /// the query clause the instruction implements, so a verifier complaint can point at it.
    pub fn note_at(&self, index: usize) -> Option<&str> {
        self.notes
            .iter()
            .rev()
            .find(|(at, _)| *at <= index)
            .map(|(_, note)| note.as_str())
    }
}

/// Why a program could not be assembled.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum AsmError {
    /// A jump at slot `at` targets a label that was never bound.
    UnboundLabel { label: Label, at: usize },
    /// A label was bound at two positions.
    LabelBoundTwice {
        label: Label,
        first: usize,
        second: usize,
    },
    /// A label that this assembler did not create.
    ForeignLabel { label: Label },
    /// The jump at slot `at` would need an offset outside the 16-bit field.
    JumpOutOfRange {
        at: usize,
        target: usize,
        distance: i64,
    },
    /// The jump at slot `at` targets the end of the program, where there is no instruction.
    JumpPastEnd { at: usize, label: Label },
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmError::UnboundLabel { label, at } => {
                write!(
                    f,
                    "jump at instruction {at} targets label {label}, which is never bound"
                )
            }
            AsmError::LabelBoundTwice {
                label,
                first,
                second,
            } => write!(
                f,
                "label {label} is bound twice, at instructions {first} and {second}"
            ),
            AsmError::ForeignLabel { label } => {
                write!(f, "label {label} was not created by this assembler")
            }
            AsmError::JumpOutOfRange {
                at,
                target,
                distance,
            } => write!(
                f,
                "jump at instruction {at} to instruction {target} needs offset {distance}, \
                 outside the 16-bit range {}..={}",
                i16::MIN,
                i16::MAX
            ),
            AsmError::JumpPastEnd { at, label } => write!(
                f,
                "jump at instruction {at} targets label {label} at the end of the program, \
                 where there is no instruction"
            ),
        }
    }
}

impl std::error::Error for AsmError {}

/// Builds a program slot by slot; jumps name labels and are patched in [`Assembler::finish`].
#[derive(Debug, Default)]
pub struct Assembler {
    insns: Vec<Insn>,
    notes: Vec<(usize, String)>,
    /// Slot index each label is bound to, indexed by label number.
    label_positions: Vec<Option<usize>>,
    /// Jumps to patch: (slot index of the jump, target label).
    fixups: Vec<(usize, Label)>,
    /// Errors found while emitting, reported by `finish` (bind cannot return one).
    deferred_errors: Vec<AsmError>,
    relocations: Vec<MapRelocation>,
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn new_label(&mut self) -> Label {
        // More than u32::MAX labels cannot be emitted: each needs far more than one byte of RAM.
        let id = u32::try_from(self.label_positions.len()).unwrap_or(u32::MAX);
        self.label_positions.push(None);
        Label(id)
    }

    /// Binds `label` to the position of the next emitted instruction.
    pub fn bind(&mut self, label: Label) {
        let here = self.insns.len();
        match self.label_positions.get_mut(label.0 as usize) {
            None => self.deferred_errors.push(AsmError::ForeignLabel { label }),
            Some(Some(first)) => self.deferred_errors.push(AsmError::LabelBoundTwice {
                label,
                first: *first,
                second: here,
            }),
            Some(slot @ None) => *slot = Some(here),
        }
    }

    /// Attaches a note to the next emitted instruction (several notes may attach to one).
    pub fn annotate(&mut self, note: impl Into<String>) {
        self.notes.push((self.insns.len(), note.into()));
    }

    pub fn emit(&mut self, insn: Insn) {
        self.insns.push(insn);
    }

    /// Emits both slots of `dst = value`.
    pub fn emit_ld_imm64(&mut self, dst: Reg, value: u64) {
        self.insns.extend(Insn::ld_imm64(dst, value));
    }

    /// Emits both slots of `dst = <map fd>`.
    pub fn emit_ld_map_fd(&mut self, dst: Reg, fd: i32) {
        self.insns.extend(Insn::ld_map_fd(dst, fd));
    }

    /// Emits both slots of `dst = <map>` with a placeholder fd, recording the relocation.
    pub fn emit_ld_map(&mut self, dst: Reg, map: MapRef) {
        self.relocations.push(MapRelocation {
            slot: self.insns.len(),
            map,
        });
        self.emit_ld_map_fd(dst, MAP_FD_PLACEHOLDER);
    }

    /// Emits both slots of `dst = &<map value> + offset` with a placeholder fd, recording the
    /// relocation (the offset stays in the second slot).
    pub fn emit_ld_map_value(&mut self, dst: Reg, map: MapRef, offset: u32) {
        self.relocations.push(MapRelocation {
            slot: self.insns.len(),
            map,
        });
        self.insns
            .extend(Insn::ld_map_value(dst, MAP_FD_PLACEHOLDER, offset));
    }

    /// `if dst op src goto target` on 64-bit values.
    pub fn jump(&mut self, op: JmpOp, dst: Reg, src: Operand, target: Label) {
        self.emit_fixup(Insn::jump(op, dst, src, 0), target);
    }

    /// `if wdst op wsrc goto target` on the low 32 bits.
    pub fn jump32(&mut self, op: JmpOp, dst: Reg, src: Operand, target: Label) {
        self.emit_fixup(Insn::jump32(op, dst, src, 0), target);
    }

    pub fn goto(&mut self, target: Label) {
        self.emit_fixup(Insn::goto(0), target);
    }

    fn emit_fixup(&mut self, insn: Insn, target: Label) {
        self.fixups.push((self.insns.len(), target));
        self.insns.push(insn);
    }

    /// Slots emitted so far (an `ld_imm64` counts two).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Resolves every jump. Offsets are relative to the slot after the jump.
    pub fn finish(mut self) -> Result<Program, AsmError> {
        if let Some(error) = self.deferred_errors.into_iter().next() {
            return Err(error);
        }
        let end = self.insns.len();
        for &(at, label) in &self.fixups {
            let target = match self.label_positions.get(label.0 as usize) {
                None => return Err(AsmError::ForeignLabel { label }),
                Some(None) => return Err(AsmError::UnboundLabel { label, at }),
                Some(Some(position)) => *position,
            };
            if target >= end {
                return Err(AsmError::JumpPastEnd { at, label });
            }
            // Slot counts fit i64: a Vec cannot hold more than isize::MAX elements.
            let distance = target as i64 - (at as i64 + 1);
            let off = i16::try_from(distance).map_err(|_| AsmError::JumpOutOfRange {
                at,
                target,
                distance,
            })?;
            self.insns[at].off = off;
        }
        Ok(Program {
            insns: self.insns,
            notes: self.notes,
            relocations: self.relocations,
            formats: Vec::new(),
        })
    }
}
