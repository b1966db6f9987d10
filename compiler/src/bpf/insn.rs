//! Stage `emit`, ISA layer: one eBPF instruction slot and its exact 8-byte encoding.
//! Guarantees: every constructor produces the encoding given by the kernel's instruction-set
//! document (checked byte for byte against llvm-mc in tests), and
//! `Insn::from_bytes(insn.to_bytes()) == insn` for every slot.

use std::fmt;

pub use super::opcode::{AluOp, ByteOrder, JmpOp, Size, SwapWidth};
use super::opcode::{
    ALU_END, ATOMIC_ADD, CLASS_ALU, CLASS_ALU64, CLASS_JMP, CLASS_JMP32, CLASS_LDX, CLASS_MASK,
    CLASS_ST, CLASS_STX, JMP_CALL, JMP_EXIT, JMP_JA, MODE_ATOMIC, MODE_MASK, MODE_MEM, MODE_MEMSX,
    OPCODE_LD_IMM64, OP_MASK, PSEUDO_KFUNC_CALL, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, SRC_K, SRC_X,
};

/// A BPF register, `r0`..`r10`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Reg(pub u8);

impl Reg {
    /// Return value of helpers and of the program.
    pub const R0: Reg = Reg(0);
    /// First argument; holds the context pointer at program entry.
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    /// R6..R9 survive helper calls.
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    /// Read-only frame pointer; the stack lives at negative offsets from it.
    pub const R10: Reg = Reg(10);
    /// Alias of `R10`.
    pub const FP: Reg = Reg(10);
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// The source operand of an ALU or jump instruction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Operand {
    Reg(Reg),
    Imm(i32),
}

impl From<Reg> for Operand {
    fn from(reg: Reg) -> Operand {
        Operand::Reg(reg)
    }
}

impl From<i32> for Operand {
    fn from(imm: i32) -> Operand {
        Operand::Imm(imm)
    }
}

impl Operand {
    /// Source bit, `src` field and `imm` field for this operand.
    fn fields(self) -> (u8, u8, i32) {
        match self {
            Operand::Reg(reg) => (SRC_X, reg.0, 0),
            Operand::Imm(imm) => (SRC_K, 0, imm),
        }
    }
}

/// One 8-byte instruction slot. `ld_imm64` occupies two consecutive slots.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Insn {
    pub code: u8,
    /// Destination register (low nibble of byte 1).
    pub dst: u8,
    /// Source register (high nibble of byte 1).
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The little-endian wire form: opcode, dst|src<<4, off, imm.
    /// Only the low 4 bits of `dst` and `src` fit the encoding.
    pub fn to_bytes(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | ((self.src & 0x0f) << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The instruction class (low 3 bits of the opcode).
    pub fn class(&self) -> u8 {
        self.code & CLASS_MASK
    }

    /// True for the first slot of a 16-byte `ld_imm64`.
    pub fn is_ld_imm64(&self) -> bool {
        self.code == OPCODE_LD_IMM64
    }

    /// Slots this instruction occupies when it starts at this slot.
    pub fn slots(&self) -> usize {
        if self.is_ld_imm64() {
            2
        } else {
            1
        }
    }

    fn alu(class: u8, op: AluOp, dst: Reg, src: Operand) -> Insn {
        // Negation has no source; the kernel requires BPF_K with src = 0 and imm = 0.
        let (source_bit, src_reg, imm) = if op == AluOp::Neg {
            (SRC_K, 0, 0)
        } else {
            src.fields()
        };
        Insn {
            code: class | op.code() | source_bit,
            dst: dst.0,
            src: src_reg,
            off: op.off(),
            imm,
        }
    }

    /// 64-bit ALU operation `dst op= src`. For `Neg` the operand is ignored.
    pub fn alu64(op: AluOp, dst: Reg, src: Operand) -> Insn {
        Insn::alu(CLASS_ALU64, op, dst, src)
    }

    /// 32-bit ALU operation `wdst op= wsrc`; the result is zero-extended to 64 bits.
    pub fn alu32(op: AluOp, dst: Reg, src: Operand) -> Insn {
        Insn::alu(CLASS_ALU, op, dst, src)
    }

    pub fn mov64(dst: Reg, src: Operand) -> Insn {
        Insn::alu64(AluOp::Mov, dst, src)
    }

    pub fn mov32(dst: Reg, src: Operand) -> Insn {
        Insn::alu32(AluOp::Mov, dst, src)
    }

    /// `dst = (s8|s16|s32) src` (cpu v4 MOVSX, `off` = source bits). Sign-extending from 64 bits
    /// is a plain move.
    pub fn mov64_sign_extend(dst: Reg, src: Reg, from: Size) -> Insn {
        let mut insn = Insn::mov64(dst, Operand::Reg(src));
        if from != Size::DW {
            insn.off = bits_of(from);
        }
        insn
    }

    /// `wdst = (s8|s16) wsrc` (cpu v4 MOVSX, 32-bit). From 32 or 64 bits it is a plain `mov32`.
    pub fn mov32_sign_extend(dst: Reg, src: Reg, from: Size) -> Insn {
        let mut insn = Insn::mov32(dst, Operand::Reg(src));
        if matches!(from, Size::B | Size::H) {
            insn.off = bits_of(from);
        }
        insn
    }

    /// `dst = *(size *)(base + off)`, zero-extended (BPF_LDX | BPF_MEM).
    pub fn load(size: Size, dst: Reg, base: Reg, off: i16) -> Insn {
        Insn {
            code: CLASS_LDX | MODE_MEM | size.code(),
            dst: dst.0,
            src: base.0,
            off,
            imm: 0,
        }
    }

    /// `dst = *(s8|s16|s32 *)(base + off)`, sign-extended to 64 bits (BPF_LDX | BPF_MEMSX, cpu v4).
    /// There is no sign-extending 8-byte load: `Size::DW` gives the plain load, which is the same.
    pub fn load_signed(size: Size, dst: Reg, base: Reg, off: i16) -> Insn {
        if size == Size::DW {
            return Insn::load(size, dst, base, off);
        }
        Insn {
            code: CLASS_LDX | MODE_MEMSX | size.code(),
            dst: dst.0,
            src: base.0,
            off,
            imm: 0,
        }
    }

    /// `*(size *)(base + off) = imm` (BPF_ST | BPF_MEM); for `DW` the immediate is sign-extended.
    pub fn store_imm(size: Size, base: Reg, off: i16, imm: i32) -> Insn {
        Insn {
            code: CLASS_ST | MODE_MEM | size.code(),
            dst: base.0,
            src: 0,
            off,
            imm,
        }
    }

    /// `*(size *)(base + off) = src` (BPF_STX | BPF_MEM).
    pub fn store(size: Size, base: Reg, off: i16, src: Reg) -> Insn {
        Insn {
            code: CLASS_STX | MODE_MEM | size.code(),
            dst: base.0,
            src: src.0,
            off,
            imm: 0,
        }
    }

    /// `lock *(u64 *)(base + off) += src` (BPF_STX | BPF_ATOMIC | BPF_DW, imm = BPF_ADD).
    pub fn atomic_add64(base: Reg, off: i16, src: Reg) -> Insn {
        Insn {
            code: CLASS_STX | MODE_ATOMIC | Size::DW.code(),
            dst: base.0,
            src: src.0,
            off,
            imm: ATOMIC_ADD,
        }
    }

    /// `lock *(u32 *)(base + off) += wsrc`.
    pub fn atomic_add32(base: Reg, off: i16, src: Reg) -> Insn {
        Insn {
            code: CLASS_STX | MODE_ATOMIC | Size::W.code(),
            ..Insn::atomic_add64(base, off, src)
        }
    }

    /// `dst = value` as the two-slot BPF_LD | BPF_IMM | BPF_DW: low half in the first slot's
    /// `imm`, high half in the second slot's `imm`.
    pub fn ld_imm64(dst: Reg, value: u64) -> [Insn; 2] {
        Insn::ld_imm64_pseudo(dst, 0, value as u32 as i32, (value >> 32) as u32 as i32)
    }

    /// `dst = <map with this fd>`: an `ld_imm64` with `src = BPF_PSEUDO_MAP_FD` that the kernel
    /// rewrites to the map's address at load time.
    pub fn ld_map_fd(dst: Reg, fd: i32) -> [Insn; 2] {
        Insn::ld_imm64_pseudo(dst, PSEUDO_MAP_FD, fd, 0)
    }

    /// `dst = <address of byte offset of the value of the array map with this fd>`: an
    /// `ld_imm64` with `src = BPF_PSEUDO_MAP_VALUE` (element 0 of an array map).
    pub fn ld_map_value(dst: Reg, fd: i32, offset: u32) -> [Insn; 2] {
        Insn::ld_imm64_pseudo(dst, PSEUDO_MAP_VALUE, fd, offset as i32)
    }

    fn ld_imm64_pseudo(dst: Reg, src: u8, low: i32, high: i32) -> [Insn; 2] {
        [
            Insn {
                code: OPCODE_LD_IMM64,
                dst: dst.0,
                src,
                off: 0,
                imm: low,
            },
            Insn {
                code: 0,
                dst: 0,
                src: 0,
                off: 0,
                imm: high,
            },
        ]
    }

    /// Call of the kernel helper with this id (`enum bpf_func_id`, as in `bpfq_kernel::helpers`);
    /// arguments in r1..r5, result in r0. The id is stored bit for bit in the 32-bit `imm`.
    /// A call of the kernel function whose BTF FUNC id in vmlinux is `btf_id` (a kfunc).
    pub fn call_kfunc(btf_id: u32) -> Insn {
        Insn {
            code: CLASS_JMP | JMP_CALL,
            dst: 0,
            src: PSEUDO_KFUNC_CALL,
            off: 0,
            imm: i32::from_ne_bytes(btf_id.to_ne_bytes()),
        }
    }

    pub fn call_helper(id: u32) -> Insn {
        Insn {
            code: CLASS_JMP | JMP_CALL,
            dst: 0,
            src: 0,
            off: 0,
            imm: i32::from_ne_bytes(id.to_ne_bytes()),
        }
    }

    pub fn exit() -> Insn {
        Insn {
            code: CLASS_JMP | JMP_EXIT,
            dst: 0,
            src: 0,
            off: 0,
            imm: 0,
        }
    }

    fn conditional(class: u8, op: JmpOp, dst: Reg, src: Operand, off: i16) -> Insn {
        let (source_bit, src_reg, imm) = src.fields();
        Insn {
            code: class | op.code() | source_bit,
            dst: dst.0,
            src: src_reg,
            off,
            imm,
        }
    }

    /// `if dst op src goto pc+off` comparing 64-bit values; `off` counts slots after this one.
    pub fn jump(op: JmpOp, dst: Reg, src: Operand, off: i16) -> Insn {
        Insn::conditional(CLASS_JMP, op, dst, src, off)
    }

    /// `if wdst op wsrc goto pc+off` comparing the low 32 bits (BPF_JMP32 class).
    pub fn jump32(op: JmpOp, dst: Reg, src: Operand, off: i16) -> Insn {
        Insn::conditional(CLASS_JMP32, op, dst, src, off)
    }

    /// Unconditional `goto pc+off`.
    pub fn goto(off: i16) -> Insn {
        Insn {
            code: CLASS_JMP | JMP_JA,
            dst: 0,
            src: 0,
            off,
            imm: 0,
        }
    }

    /// Byte-order conversion of `dst` in place: `to_le`/`to_be` use the BPF_ALU class with the
    /// source bit selecting the target order; `Swap` is the cpu v4 BPF_ALU64 form.
    pub fn endian(order: ByteOrder, dst: Reg, width: SwapWidth) -> Insn {
        let code = match order {
            ByteOrder::ToLe => CLASS_ALU | ALU_END | SRC_K,
            ByteOrder::ToBe => CLASS_ALU | ALU_END | SRC_X,
            ByteOrder::Swap => CLASS_ALU64 | ALU_END,
        };
        Insn {
            code,
            dst: dst.0,
            src: 0,
            off: 0,
            imm: width.bits(),
        }
    }

    pub fn to_le(dst: Reg, width: SwapWidth) -> Insn {
        Insn::endian(ByteOrder::ToLe, dst, width)
    }

    pub fn to_be(dst: Reg, width: SwapWidth) -> Insn {
        Insn::endian(ByteOrder::ToBe, dst, width)
    }

    pub fn bswap(dst: Reg, width: SwapWidth) -> Insn {
        Insn::endian(ByteOrder::Swap, dst, width)
    }

    /// Whether the kernel accepts this slot only from cpu v4 (Linux 6.6): a sign-extending load
    /// (BPF_MEMSX), sdiv/smod (DIV/MOD with `off` 1), movsx (MOV with `off` != 0), the
    /// unconditional bswap (BPF_ALU64 | BPF_END) or `gotol` (BPF_JMP32 | BPF_JA).
    pub fn needs_cpu_v4(&self) -> bool {
        let op = self.code & OP_MASK;
        match self.class() {
            CLASS_LDX => self.code & MODE_MASK == MODE_MEMSX,
            CLASS_ALU | CLASS_ALU64 if matches!(op, 0x30 | 0x90) => self.off != 0,
            CLASS_ALU | CLASS_ALU64 if op == AluOp::Mov.code() => self.off != 0,
            CLASS_ALU64 => op == ALU_END,
            CLASS_JMP32 => op == JMP_JA,
            _ => false,
        }
    }

    /// Whether this slot calls a kernel function by BTF id (a kfunc), not a helper.
    pub fn is_kfunc_call(&self) -> bool {
        self.code == CLASS_JMP | JMP_CALL && self.src == PSEUDO_KFUNC_CALL
    }
}

fn bits_of(size: Size) -> i16 {
    match size {
        Size::B => 8,
        Size::H => 16,
        Size::W => 32,
        Size::DW => 64,
    }
}

/// The wire form of a sequence of slots, as passed to BPF_PROG_LOAD or put in an ELF section.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|insn| insn.to_bytes()).collect()
}

/// A byte string that is not a whole number of 8-byte slots.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DecodeError {
    pub len: usize,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BPF bytecode of {} bytes is not a whole number of 8-byte instructions",
            self.len
        )
    }
}

impl std::error::Error for DecodeError {}

/// Splits wire bytes into slots. Every 8 bytes are a slot; meaning is checked by the disassembler.
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(DecodeError { len: bytes.len() });
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|chunk| {
            let mut slot = [0u8; 8];
            slot.copy_from_slice(chunk);
            Insn::from_bytes(slot)
        })
        .collect())
}
