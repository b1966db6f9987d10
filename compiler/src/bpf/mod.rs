//! Stage `emit`, BPF instruction layer: opcode bits (`opcode`), instruction encoding (`insn`), an
//! assembler with symbolic labels (`asm`) and a human-readable listing (`disasm`).
//! Guarantees: what the code generator builds here is exactly what the kernel receives.

pub mod asm;
pub mod disasm;
pub mod insn;
pub mod opcode;

pub use asm::{AsmError, Assembler, Label, Program};
pub use disasm::disassemble;
pub use insn::{
    decode, encode, AluOp, ByteOrder, DecodeError, Insn, JmpOp, Operand, Reg, Size, SwapWidth,
};
