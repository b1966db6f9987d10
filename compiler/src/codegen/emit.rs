//! Stage `emit`, step 3: instruction selection. Frame: the row buffer occupies
//! `[r10 - row_size, r10)`, then an 8-byte probe-read scratch slot when the program uses one,
//! then spill slot k at `r10 - row_size - scratch - 8(k+1)`. R0 and R5 are
//! scratch registers (never allocated), so reloading spilled operands never clobbers a value.
//! Without cpu v4 (Linux < 6.6) no v4 instruction is emitted: a sign-extending load is a plain
//! load and two shifts, and signed division never reaches here (the lowering expands it).

use super::{regalloc::Location, CodegenError};
use crate::bpf::asm::{Assembler, Label, Program};
use crate::bpf::insn::{AluOp, Insn, JmpOp, Operand as BpfOperand, Reg, Size, SwapWidth};
use crate::ir::{
    BinOp, Block, Cmp, Function, Helper, Inst, MapRef, Operand, PrintfArg, Terminator, UnOp, Value,
    Width,
};
use bpfq_kernel::helpers;
use cranelift_entity::{EntityRef, SecondaryMap};

const SCRATCH: Reg = Reg::R0;
const SCRATCH2: Reg = Reg::R5;
/// `bpf_map_update_elem` flag: create the element only if it does not exist yet.
const BPF_NOEXIST: i32 = 1;

struct Emitter<'a> {
    asm: Assembler,
    locations: &'a [Location],
    row_size: u32,
    /// Bytes between the row buffer and the spill slots (probe scratch slot and IR slots).
    scratch: u32,
    uses_probe: bool,
    /// The kernel takes cpu v4 instructions (BPF_MEMSX loads, sdiv/smod).
    cpu_v4: bool,
}

pub fn emit(
    func: &Function,
    locations: &[Location],
    scratch: u32,
    cpu_v4: bool,
) -> Result<Program, CodegenError> {
    let mut e = Emitter {
        asm: Assembler::new(),
        locations,
        row_size: func.row_size,
        scratch,
        uses_probe: func.uses_probe_scratch(),
        cpu_v4,
    };
    let mut labels: SecondaryMap<Block, Option<Label>> = SecondaryMap::new();
    for &block in &func.layout {
        labels[block] = Some(e.asm.new_label());
    }
    let label = |labels: &SecondaryMap<Block, Option<Label>>, b: Block| {
        labels[b].ok_or_else(|| CodegenError::Internal(format!("no label for {b}")))
    };
    for (i, &block) in func.layout.iter().enumerate() {
        let data = &func.blocks[block];
        e.asm.bind(label(&labels, block)?);
        for inst in &data.insts {
            if let Some(note) = &inst.note {
                e.asm.annotate(note.clone());
            }
            e.inst(inst.result, &inst.inst)?;
        }
        let next = func.layout.get(i + 1).copied();
        if let Some(note) = &data.terminator_note {
            e.asm.annotate(note.clone());
        }
        match &data.terminator {
            Terminator::Return(code) => {
                e.asm.emit(Insn::mov64(Reg::R0, BpfOperand::Imm(*code)));
                e.asm.emit(Insn::exit());
            }
            Terminator::Jump(to) => {
                if Some(*to) != next {
                    e.asm.goto(label(&labels, *to)?);
                }
            }
            Terminator::Branch {
                cmp,
                lhs,
                rhs,
                then_to,
                else_to,
            } => {
                let lhs = e.read(*lhs, SCRATCH);
                let rhs = e.operand(*rhs, SCRATCH2);
                if Some(*then_to) == next {
                    e.asm
                        .jump(jmp_op(cmp.negate()), lhs, rhs, label(&labels, *else_to)?);
                } else {
                    e.asm
                        .jump(jmp_op(*cmp), lhs, rhs, label(&labels, *then_to)?);
                    if Some(*else_to) != next {
                        e.asm.goto(label(&labels, *else_to)?);
                    }
                }
            }
        }
    }
    e.asm
        .finish()
        .map_err(|err| CodegenError::Internal(format!("{err:?}")))
}

fn jmp_op(cmp: Cmp) -> JmpOp {
    match cmp {
        Cmp::Eq => JmpOp::Jeq,
        Cmp::Ne => JmpOp::Jne,
        Cmp::ULt => JmpOp::Jlt,
        Cmp::ULe => JmpOp::Jle,
        Cmp::UGt => JmpOp::Jgt,
        Cmp::UGe => JmpOp::Jge,
        Cmp::SLt => JmpOp::Jslt,
        Cmp::SLe => JmpOp::Jsle,
        Cmp::SGt => JmpOp::Jsgt,
        Cmp::SGe => JmpOp::Jsge,
    }
}

fn size(width: Width) -> Size {
    match width {
        Width::B1 => Size::B,
        Width::B2 => Size::H,
        Width::B4 => Size::W,
        Width::B8 => Size::DW,
    }
}

/// The ALU operation of `op`; sdiv and smod are cpu v4 instructions.
fn alu_op(op: BinOp) -> AluOp {
    match op {
        BinOp::Add => AluOp::Add,
        BinOp::Sub => AluOp::Sub,
        BinOp::Mul => AluOp::Mul,
        BinOp::UDiv => AluOp::Div,
        BinOp::SDiv => AluOp::SDiv,
        BinOp::URem => AluOp::Mod,
        BinOp::SRem => AluOp::SMod,
        BinOp::And => AluOp::And,
        BinOp::Or => AluOp::Or,
        BinOp::Xor => AluOp::Xor,
        BinOp::Shl => AluOp::Lsh,
        BinOp::LShr => AluOp::Rsh,
        BinOp::AShr => AluOp::Arsh,
    }
}

impl Emitter<'_> {
    /// A load of `width` bytes, sign-extended to 64 bits when `signed`: one BPF_MEMSX load with
    /// cpu v4, else the zero-extending load and `dst <<= 64 - bits; dst s>>= 64 - bits`.
    fn load(&mut self, width: Width, signed: bool, dst: Reg, base: Reg, off: i16) {
        if !signed || width == Width::B8 {
            self.asm.emit(Insn::load(size(width), dst, base, off));
        } else if self.cpu_v4 {
            self.asm
                .emit(Insn::load_signed(size(width), dst, base, off));
        } else {
            self.asm.emit(Insn::load(size(width), dst, base, off));
            let shift = BpfOperand::Imm(64 - 8 * width.bytes() as i32);
            self.asm.emit(Insn::alu64(AluOp::Lsh, dst, shift));
            self.asm.emit(Insn::alu64(AluOp::Arsh, dst, shift));
        }
    }

    fn location(&self, v: Value) -> Location {
        self.locations[v.index()]
    }

    fn slot_offset(&self, slot: u32) -> i16 {
        // Bounded by MAX_STACK, checked before emission.
        -((self.row_size + self.scratch + 8 * (slot + 1)) as i16)
    }

    /// IR slot k sits right below the probe scratch slot (if any) under the row.
    fn ir_slot_offset(&self, slot: u32) -> i16 {
        let probe = if self.uses_probe { 8 } else { 0 };
        -((self.row_size + probe + 8 * (slot + 1)) as i16)
    }

    fn row_offset(&self, offset: u32) -> i16 {
        offset as i16 - self.row_size as i16
    }

    /// `dst = r10 - row_size + offset`: the address of a row-buffer byte, for a helper argument.
    fn row_pointer(&mut self, dst: Reg, offset: u32) {
        self.mov(dst, Reg::R10);
        self.asm.emit(Insn::alu64(
            AluOp::Add,
            dst,
            BpfOperand::Imm(i32::from(self.row_offset(offset))),
        ));
    }

    /// `v` in exactly register `dst` (a helper argument), from its register or its spill slot.
    fn read_into(&mut self, dst: Reg, v: Value) {
        let src = self.read(v, dst);
        self.mov(dst, src);
    }

    /// The register holding `v`, reloading a spilled value into `scratch`.
    fn read(&mut self, v: Value, scratch: Reg) -> Reg {
        match self.location(v) {
            Location::Reg(r) => r,
            Location::Spill(slot) => {
                let off = self.slot_offset(slot);
                self.asm.emit(Insn::load(Size::DW, scratch, Reg::R10, off));
                scratch
            }
        }
    }

    fn operand(&mut self, o: Operand, scratch: Reg) -> BpfOperand {
        match o {
            Operand::Imm(i) => BpfOperand::Imm(i),
            Operand::Value(v) => BpfOperand::Reg(self.read(v, scratch)),
        }
    }

    /// The register to compute `v` into: its own, or SCRATCH when it lives on the stack.
    fn target(&self, v: Value) -> Reg {
        match self.location(v) {
            Location::Reg(r) => r,
            Location::Spill(_) => SCRATCH,
        }
    }

    /// Stores a value computed into SCRATCH back to its spill slot.
    fn write_back(&mut self, v: Value) {
        if let Location::Spill(slot) = self.location(v) {
            let off = self.slot_offset(slot);
            self.asm.emit(Insn::store(Size::DW, Reg::R10, off, SCRATCH));
        }
    }

    /// `v` becomes what a helper call left in R0.
    fn result_from_r0(&mut self, v: Value) {
        let dst = self.target(v);
        self.mov(dst, Reg::R0);
        self.write_back(v);
    }

    fn mov(&mut self, dst: Reg, src: Reg) {
        if dst != src {
            self.asm.emit(Insn::mov64(dst, BpfOperand::Reg(src)));
        }
    }

    /// A base register and a 16-bit offset addressing `base + offset`; large offsets are added
    /// to a copy of the base in SCRATCH2 first.
    fn address(&mut self, base: Reg, offset: i32) -> (Reg, i16) {
        if let Ok(off) = i16::try_from(offset) {
            return (base, off);
        }
        self.mov(SCRATCH2, base);
        self.asm
            .emit(Insn::alu64(AluOp::Add, SCRATCH2, BpfOperand::Imm(offset)));
        (SCRATCH2, 0)
    }

    /// `bpf_probe_read_kernel(r10 + dst_offset, len, base + offset)`. The source goes to R3
    /// first: `base` may sit in R1 or R2, which are set next.
    fn probe_read(&mut self, base: Value, offset: i32, dst_offset: i32, len: u32) {
        self.probe_call(helpers::PROBE_READ_KERNEL, base, offset, dst_offset, len);
    }

    /// `helper(r10 + dst_offset, len, base + offset)` for the probe-read helpers.
    fn probe_call(&mut self, helper: u32, base: Value, offset: i32, dst_offset: i32, len: u32) {
        self.read_into(Reg::R3, base);
        if offset != 0 {
            self.asm
                .emit(Insn::alu64(AluOp::Add, Reg::R3, BpfOperand::Imm(offset)));
        }
        self.mov(Reg::R1, Reg::R10);
        self.asm.emit(Insn::alu64(
            AluOp::Add,
            Reg::R1,
            BpfOperand::Imm(dst_offset),
        ));
        self.asm
            .emit(Insn::mov64(Reg::R2, BpfOperand::Imm(len as i32)));
        self.asm.emit(Insn::call_helper(helper));
    }

    fn inst(&mut self, result: Option<Value>, inst: &Inst) -> Result<(), CodegenError> {
        let need_result =
            || result.ok_or_else(|| CodegenError::Internal(format!("`{inst}` has no result")));
        match inst {
            Inst::Context => {
                let v = need_result()?;
                let dst = self.target(v);
                self.mov(dst, Reg::R1);
                self.write_back(v);
            }
            Inst::Const(c) => {
                let v = need_result()?;
                let dst = self.target(v);
                match i32::try_from(*c as i64) {
                    Ok(imm) => self.asm.emit(Insn::mov64(dst, BpfOperand::Imm(imm))),
                    Err(_) => self.asm.emit_ld_imm64(dst, *c),
                }
                self.write_back(v);
            }
            Inst::Load {
                base,
                offset,
                width,
                signed,
            } => {
                let v = need_result()?;
                let base = self.read(*base, SCRATCH2);
                let dst = self.target(v);
                let (base, off) = self.address(base, *offset);
                self.load(*width, *signed, dst, base, off);
                self.write_back(v);
            }
            Inst::Binary { op, lhs, rhs } => {
                let v = need_result()?;
                if !self.cpu_v4 && matches!(op, BinOp::SDiv | BinOp::SRem) {
                    return Err(CodegenError::Internal(format!(
                        "`{inst}` needs cpu v4 (the lowering expands it for older kernels)"
                    )));
                }
                let dst = self.target(v);
                match self.location(*lhs) {
                    Location::Reg(r) => self.mov(dst, r),
                    Location::Spill(slot) => {
                        let off = self.slot_offset(slot);
                        self.asm.emit(Insn::load(Size::DW, dst, Reg::R10, off));
                    }
                }
                let rhs = self.operand(*rhs, SCRATCH2);
                self.asm.emit(Insn::alu64(alu_op(*op), dst, rhs));
                self.write_back(v);
            }
            Inst::Unary { op, arg } => {
                let v = need_result()?;
                let dst = self.target(v);
                let src = self.read(*arg, SCRATCH2);
                self.mov(dst, src);
                match op {
                    UnOp::Neg => self
                        .asm
                        .emit(Insn::alu64(AluOp::Neg, dst, BpfOperand::Imm(0))),
                    UnOp::BitNot => {
                        self.asm
                            .emit(Insn::alu64(AluOp::Xor, dst, BpfOperand::Imm(-1)))
                    }
                    UnOp::ByteSwap(bytes) => {
                        let width = match bytes {
                            2 => SwapWidth::Bits16,
                            4 => SwapWidth::Bits32,
                            _ => SwapWidth::Bits64,
                        };
                        // BPF_END to big-endian: a swap on this little-endian CPU.
                        self.asm.emit(Insn::to_be(dst, width));
                    }
                }
                self.write_back(v);
            }
            Inst::ZeroRow { words } => {
                for &chunk in words {
                    let off = self.row_offset(chunk);
                    self.asm.emit(Insn::store_imm(Size::DW, Reg::R10, off, 0));
                }
            }
            Inst::StoreRow {
                offset,
                width,
                value,
            } => {
                let off = self.row_offset(*offset);
                match value {
                    Operand::Imm(imm) => {
                        self.asm
                            .emit(Insn::store_imm(size(*width), Reg::R10, off, *imm))
                    }
                    Operand::Value(v) => {
                        let src = self.read(*v, SCRATCH);
                        self.asm.emit(Insn::store(size(*width), Reg::R10, off, src));
                    }
                }
            }
            Inst::CopyToRow {
                offset,
                base,
                src_offset,
                len,
            } => {
                let base = self.read(*base, SCRATCH2);
                let last = src_offset.saturating_add(*len as i32);
                // One base adjustment for the whole copy when its offsets leave the i16 range.
                let (base, start) = if i16::try_from(last).is_ok() {
                    (base, *src_offset)
                } else {
                    (self.address(base, *src_offset).0, 0)
                };
                let mut done = 0u32;
                while done < *len {
                    let chunk = [8u32, 4, 2, 1]
                        .into_iter()
                        .find(|c| *c <= len - done)
                        .unwrap_or(1);
                    let width = Width::from_bytes(chunk).unwrap_or(Width::B1);
                    let src_off = (start + done as i32) as i16;
                    self.asm
                        .emit(Insn::load(size(width), SCRATCH, base, src_off));
                    let dst_off = self.row_offset(offset + done);
                    self.asm
                        .emit(Insn::store(size(width), Reg::R10, dst_off, SCRATCH));
                    done += chunk;
                }
            }
            Inst::SlotStore { slot, value } => {
                let off = self.ir_slot_offset(*slot);
                match value {
                    Operand::Imm(imm) => {
                        self.asm
                            .emit(Insn::store_imm(Size::DW, Reg::R10, off, *imm))
                    }
                    Operand::Value(v) => {
                        let src = self.read(*v, SCRATCH);
                        self.asm.emit(Insn::store(Size::DW, Reg::R10, off, src));
                    }
                }
            }
            Inst::SlotLoad { slot } => {
                let v = need_result()?;
                let dst = self.target(v);
                let off = self.ir_slot_offset(*slot);
                self.asm.emit(Insn::load(Size::DW, dst, Reg::R10, off));
                self.write_back(v);
            }
            Inst::ProbeStrToRow { offset, base, len } => {
                let dst = i32::from(self.row_offset(*offset));
                self.probe_call(helpers::PROBE_READ_KERNEL_STR, *base, 0, dst, *len);
                // A `kernfs_path` walk tests the length; a `string` column ignores it.
                if let Some(v) = result {
                    self.result_from_r0(v);
                }
            }
            Inst::DPathToRow {
                offset,
                base,
                src_offset,
                len,
            } => {
                let v = need_result()?;
                // bpf_d_path(struct path *path, char *buf, u32 sz); the path pointer keeps the
                // BTF type of its struct for the verifier, which finds `struct path` at the offset.
                self.read_into(Reg::R1, *base);
                if *src_offset != 0 {
                    self.asm.emit(Insn::alu64(
                        AluOp::Add,
                        Reg::R1,
                        BpfOperand::Imm(*src_offset),
                    ));
                }
                self.row_pointer(Reg::R2, *offset);
                self.asm
                    .emit(Insn::mov64(Reg::R3, BpfOperand::Imm(*len as i32)));
                self.asm.emit(Insn::call_helper(helpers::D_PATH));
                self.result_from_r0(v);
            }
            Inst::CastPointer {
                ptr,
                btf_type,
                kfunc: Some(kfunc),
            } => {
                let v = need_result()?;
                self.read_into(Reg::R1, *ptr);
                self.asm
                    .emit(Insn::mov64(Reg::R2, BpfOperand::Imm(*btf_type as i32)));
                self.asm.emit(Insn::call_kfunc(*kfunc));
                self.result_from_r0(v);
            }
            Inst::CastPointer {
                ptr, kfunc: None, ..
            } => {
                // The same address: no instruction at all when the copy takes the pointer's
                // register (it does when the pointer dies here).
                let v = need_result()?;
                let dst = self.target(v);
                let src = self.read(*ptr, SCRATCH2);
                self.mov(dst, src);
                self.write_back(v);
            }
            Inst::ProbeLoad {
                base,
                offset,
                width,
                signed,
            } => {
                let v = need_result()?;
                let scratch_off = -((self.row_size + 8) as i16);
                self.probe_read(*base, *offset, i32::from(scratch_off), width.bytes());
                let dst = self.target(v);
                self.load(*width, *signed, dst, Reg::R10, scratch_off);
                self.write_back(v);
            }
            Inst::ProbeCopyToRow {
                offset,
                base,
                src_offset,
                len,
            } => {
                let dst = i32::from(self.row_offset(*offset));
                self.probe_read(*base, *src_offset, dst, *len);
            }
            Inst::RingOutput { map, len } => {
                let v = need_result()?;
                // No operand lives in R1-R4 (the instruction reads none), so they are free.
                self.asm.emit_ld_map(Reg::R1, *map);
                self.mov(Reg::R2, Reg::R10);
                self.asm.emit(Insn::alu64(
                    AluOp::Add,
                    Reg::R2,
                    BpfOperand::Imm(-(self.row_size as i32)),
                ));
                self.asm
                    .emit(Insn::mov64(Reg::R3, BpfOperand::Imm(*len as i32)));
                self.asm.emit(Insn::mov64(Reg::R4, BpfOperand::Imm(0)));
                self.asm.emit(Insn::call_helper(helpers::RINGBUF_OUTPUT));
                self.result_from_r0(v);
            }
            Inst::LoadRow {
                offset,
                width,
                signed,
            } => {
                let v = need_result()?;
                let dst = self.target(v);
                let off = self.row_offset(*offset);
                self.load(*width, *signed, dst, Reg::R10, off);
                self.write_back(v);
            }
            Inst::MapLookup { map, key } => {
                let v = need_result()?;
                // No operand lives in R1-R5 (the instruction reads none), so they are free.
                self.asm.emit_ld_map(Reg::R1, *map);
                self.row_pointer(Reg::R2, *key);
                self.asm.emit(Insn::call_helper(helpers::MAP_LOOKUP_ELEM));
                self.result_from_r0(v);
            }
            Inst::SkStorageGet { map, sk } => {
                let v = need_result()?;
                // The socket first: it may live in R1, which the map load overwrites.
                self.read_into(Reg::R2, *sk);
                self.asm.emit_ld_map(Reg::R1, *map);
                self.asm.emit(Insn::mov64(Reg::R3, BpfOperand::Imm(0)));
                self.asm.emit(Insn::mov64(Reg::R4, BpfOperand::Imm(0)));
                self.asm.emit(Insn::call_helper(helpers::SK_STORAGE_GET));
                self.result_from_r0(v);
            }
            Inst::SkcToTcpSock { sk } => {
                let v = need_result()?;
                self.read_into(Reg::R1, *sk);
                self.asm.emit(Insn::call_helper(helpers::SKC_TO_TCP_SOCK));
                self.result_from_r0(v);
            }
            Inst::MapInsert { map, key, value } => {
                let v = need_result()?;
                self.asm.emit_ld_map(Reg::R1, *map);
                self.row_pointer(Reg::R2, *key);
                self.row_pointer(Reg::R3, *value);
                self.asm
                    .emit(Insn::mov64(Reg::R4, BpfOperand::Imm(BPF_NOEXIST)));
                self.asm.emit(Insn::call_helper(helpers::MAP_UPDATE_ELEM));
                self.result_from_r0(v);
            }
            Inst::Store {
                base,
                offset,
                width,
                value,
            } => {
                let base = self.read(*base, SCRATCH2);
                let (base, off) = self.address(base, *offset);
                match value {
                    Operand::Imm(imm) => {
                        self.asm
                            .emit(Insn::store_imm(size(*width), base, off, *imm))
                    }
                    Operand::Value(v) => {
                        let src = self.read(*v, SCRATCH);
                        self.asm.emit(Insn::store(size(*width), base, off, src));
                    }
                }
            }
            Inst::SeqPrintf {
                seq,
                format,
                len,
                arg,
            } => {
                // The argument word goes to the scratch slot below the row first: reading a
                // spilled or allocated value before R1-R5 are overwritten.
                let arg_off = -((self.row_size + 8) as i16);
                match arg {
                    Some(PrintfArg::Value(v)) => {
                        let r = self.read(*v, SCRATCH);
                        self.asm.emit(Insn::store(Size::DW, Reg::R10, arg_off, r));
                    }
                    Some(PrintfArg::RowAddress(offset)) => {
                        self.mov(SCRATCH, Reg::R10);
                        self.asm.emit(Insn::alu64(
                            AluOp::Add,
                            SCRATCH,
                            BpfOperand::Imm(i32::from(self.row_offset(*offset))),
                        ));
                        self.asm
                            .emit(Insn::store(Size::DW, Reg::R10, arg_off, SCRATCH));
                    }
                    None => {}
                }
                self.read_into(Reg::R1, *seq);
                self.asm
                    .emit_ld_map_value(Reg::R2, MapRef::Formats, *format);
                self.asm
                    .emit(Insn::mov64(Reg::R3, BpfOperand::Imm(*len as i32)));
                if arg.is_some() {
                    self.mov(Reg::R4, Reg::R10);
                    self.asm.emit(Insn::alu64(
                        AluOp::Add,
                        Reg::R4,
                        BpfOperand::Imm(i32::from(arg_off)),
                    ));
                    self.asm.emit(Insn::mov64(Reg::R5, BpfOperand::Imm(8)));
                } else {
                    self.asm.emit(Insn::mov64(Reg::R4, BpfOperand::Imm(0)));
                    self.asm.emit(Insn::mov64(Reg::R5, BpfOperand::Imm(0)));
                }
                self.asm.emit(Insn::call_helper(helpers::SEQ_PRINTF));
            }
            Inst::Call {
                helper: Helper::SeqWrite,
                seq,
                len,
            } => {
                self.read_into(Reg::R1, *seq);
                self.mov(Reg::R2, Reg::R10);
                self.asm.emit(Insn::alu64(
                    AluOp::Add,
                    Reg::R2,
                    BpfOperand::Imm(-(self.row_size as i32)),
                ));
                self.asm
                    .emit(Insn::mov64(Reg::R3, BpfOperand::Imm(*len as i32)));
                self.asm.emit(Insn::call_helper(helpers::SEQ_WRITE));
            }
        }
        Ok(())
    }
}
