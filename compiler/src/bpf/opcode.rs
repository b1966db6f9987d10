//! Stage `emit`, ISA layer: opcode bits and the operation enums (classes, modes, sizes, ALU and
//! jump operations) named as in the kernel's instruction-set document.
//! Guarantees: every enum maps to its opcode bits and back without loss (`from_code(code())`).

// Instruction classes: the low 3 bits of the opcode.
pub const CLASS_LD: u8 = 0x00;
pub const CLASS_LDX: u8 = 0x01;
pub const CLASS_ST: u8 = 0x02;
pub const CLASS_STX: u8 = 0x03;
pub const CLASS_ALU: u8 = 0x04;
pub const CLASS_JMP: u8 = 0x05;
pub const CLASS_JMP32: u8 = 0x06;
pub const CLASS_ALU64: u8 = 0x07;
pub const CLASS_MASK: u8 = 0x07;

// Load/store modes: the high 3 bits of a load/store opcode.
pub const MODE_IMM: u8 = 0x00;
pub const MODE_MEM: u8 = 0x60;
pub const MODE_MEMSX: u8 = 0x80;
pub const MODE_ATOMIC: u8 = 0xc0;
pub const MODE_MASK: u8 = 0xe0;
pub const SIZE_MASK: u8 = 0x18;

// Source bit of ALU and jump opcodes: immediate (K) or register (X).
pub const SRC_K: u8 = 0x00;
pub const SRC_X: u8 = 0x08;
pub const OP_MASK: u8 = 0xf0;

// ALU operation codes that are not ordinary binary operators.
pub const ALU_END: u8 = 0xd0;

// Jump operation codes that are not conditions.
pub const JMP_JA: u8 = 0x00;
pub const JMP_CALL: u8 = 0x80;
pub const JMP_EXIT: u8 = 0x90;

// Atomic operation codes carried in `imm` of BPF_STX|BPF_ATOMIC.
pub const ATOMIC_ADD: i32 = 0x00;
pub const ATOMIC_OR: i32 = 0x40;
pub const ATOMIC_AND: i32 = 0x50;
pub const ATOMIC_XOR: i32 = 0xa0;
pub const ATOMIC_FETCH: i32 = 0x01;
pub const ATOMIC_XCHG: i32 = 0xe0 | ATOMIC_FETCH;
pub const ATOMIC_CMPXCHG: i32 = 0xf0 | ATOMIC_FETCH;

/// Opcode of the first slot of the 16-byte `ld_imm64` (BPF_LD | BPF_IMM | BPF_DW).
pub const OPCODE_LD_IMM64: u8 = CLASS_LD | MODE_IMM | 0x18;
/// `src` of an `ld_imm64` whose immediate is a map file descriptor, rewritten by the kernel.
pub const PSEUDO_MAP_FD: u8 = 1;
/// `src` of an `ld_imm64` whose immediate is a map fd plus a value offset in the second slot.
pub const PSEUDO_MAP_VALUE: u8 = 2;
/// `src` of a call whose immediate is a pc-relative bpf-to-bpf call.
pub const PSEUDO_CALL: u8 = 1;
/// `src` of a call whose immediate is a kernel function BTF id.
pub const PSEUDO_KFUNC_CALL: u8 = 2;

/// Width of a memory access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    /// Bytes accessed.
    pub fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The size accessing exactly `bytes` bytes, if there is one.
    pub fn from_bytes(bytes: u32) -> Option<Size> {
        match bytes {
            1 => Some(Size::B),
            2 => Some(Size::H),
            4 => Some(Size::W),
            8 => Some(Size::DW),
            _ => None,
        }
    }

    /// The size bits of a load/store opcode.
    pub fn code(self) -> u8 {
        match self {
            Size::W => 0x00,
            Size::H => 0x08,
            Size::B => 0x10,
            Size::DW => 0x18,
        }
    }

    /// Reads the size bits of a load/store opcode (all four values are sizes).
    pub fn from_code(opcode: u8) -> Size {
        match opcode & SIZE_MASK {
            0x00 => Size::W,
            0x08 => Size::H,
            0x10 => Size::B,
            _ => Size::DW,
        }
    }
}

/// Arithmetic and logic operations (BPF_ALU / BPF_ALU64 classes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Signed division (cpu v4): the `Div` opcode with `off = 1`.
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    /// Negation; takes no source operand.
    Neg,
    Mod,
    /// Signed modulo (cpu v4): the `Mod` opcode with `off = 1`.
    SMod,
    Xor,
    Mov,
    /// Arithmetic (sign-propagating) right shift.
    Arsh,
}

impl AluOp {
    /// The operation bits of the opcode.
    pub fn code(self) -> u8 {
        match self {
            AluOp::Add => 0x00,
            AluOp::Sub => 0x10,
            AluOp::Mul => 0x20,
            AluOp::Div | AluOp::SDiv => 0x30,
            AluOp::Or => 0x40,
            AluOp::And => 0x50,
            AluOp::Lsh => 0x60,
            AluOp::Rsh => 0x70,
            AluOp::Neg => 0x80,
            AluOp::Mod | AluOp::SMod => 0x90,
            AluOp::Xor => 0xa0,
            AluOp::Mov => 0xb0,
            AluOp::Arsh => 0xc0,
        }
    }

    /// The `off` field that selects this operation (1 for the signed cpu v4 forms).
    pub fn off(self) -> i16 {
        match self {
            AluOp::SDiv | AluOp::SMod => 1,
            _ => 0,
        }
    }

    /// The operation named by an opcode's operation bits and the instruction's `off`.
    /// `Mov` accepts only `off = 0` here; sign-extending moves are recognised by the disassembler.
    pub fn from_code(opcode: u8, off: i16) -> Option<AluOp> {
        let op = match (opcode & OP_MASK, off) {
            (0x00, 0) => AluOp::Add,
            (0x10, 0) => AluOp::Sub,
            (0x20, 0) => AluOp::Mul,
            (0x30, 0) => AluOp::Div,
            (0x30, 1) => AluOp::SDiv,
            (0x40, 0) => AluOp::Or,
            (0x50, 0) => AluOp::And,
            (0x60, 0) => AluOp::Lsh,
            (0x70, 0) => AluOp::Rsh,
            (0x80, 0) => AluOp::Neg,
            (0x90, 0) => AluOp::Mod,
            (0x90, 1) => AluOp::SMod,
            (0xa0, 0) => AluOp::Xor,
            (0xb0, 0) => AluOp::Mov,
            (0xc0, 0) => AluOp::Arsh,
            _ => return None,
        };
        Some(op)
    }

    /// The compound-assignment operator used in listings (`+=`, `s/=` ...); `=` for `Mov`.
    pub fn symbol(self) -> &'static str {
        match self {
            AluOp::Add => "+=",
            AluOp::Sub => "-=",
            AluOp::Mul => "*=",
            AluOp::Div => "/=",
            AluOp::SDiv => "s/=",
            AluOp::Or => "|=",
            AluOp::And => "&=",
            AluOp::Lsh => "<<=",
            AluOp::Rsh => ">>=",
            // Negation is `dst = -dst`; listings spell it out rather than use this symbol.
            AluOp::Neg => "= -",
            AluOp::Mod => "%=",
            AluOp::SMod => "s%=",
            AluOp::Xor => "^=",
            AluOp::Mov => "=",
            AluOp::Arsh => "s>>=",
        }
    }
}

/// Conditional jump operations (BPF_JMP / BPF_JMP32 classes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JmpOp {
    Jeq,
    Jgt,
    Jge,
    /// Jump if `dst & src != 0`.
    Jset,
    Jne,
    Jsgt,
    Jsge,
    Jlt,
    Jle,
    Jslt,
    Jsle,
}

impl JmpOp {
    /// Every conditional jump, in opcode order.
    pub const CONDITIONS: [JmpOp; 11] = [
        JmpOp::Jeq,
        JmpOp::Jgt,
        JmpOp::Jge,
        JmpOp::Jset,
        JmpOp::Jne,
        JmpOp::Jsgt,
        JmpOp::Jsge,
        JmpOp::Jlt,
        JmpOp::Jle,
        JmpOp::Jslt,
        JmpOp::Jsle,
    ];

    /// The operation bits of the opcode.
    pub fn code(self) -> u8 {
        match self {
            JmpOp::Jeq => 0x10,
            JmpOp::Jgt => 0x20,
            JmpOp::Jge => 0x30,
            JmpOp::Jset => 0x40,
            JmpOp::Jne => 0x50,
            JmpOp::Jsgt => 0x60,
            JmpOp::Jsge => 0x70,
            JmpOp::Jlt => 0xa0,
            JmpOp::Jle => 0xb0,
            JmpOp::Jslt => 0xc0,
            JmpOp::Jsle => 0xd0,
        }
    }

    /// The condition named by an opcode's operation bits, if they name one.
    pub fn from_code(opcode: u8) -> Option<JmpOp> {
        let op = match opcode & OP_MASK {
            0x10 => JmpOp::Jeq,
            0x20 => JmpOp::Jgt,
            0x30 => JmpOp::Jge,
            0x40 => JmpOp::Jset,
            0x50 => JmpOp::Jne,
            0x60 => JmpOp::Jsgt,
            0x70 => JmpOp::Jsge,
            0xa0 => JmpOp::Jlt,
            0xb0 => JmpOp::Jle,
            0xc0 => JmpOp::Jslt,
            0xd0 => JmpOp::Jsle,
            _ => return None,
        };
        Some(op)
    }

    /// The opposite condition (taken exactly when `self` is not). `Jset` has no single-instruction
    /// opposite, so it gives `None`.
    pub fn negate(self) -> Option<JmpOp> {
        let opposite = match self {
            JmpOp::Jeq => JmpOp::Jne,
            JmpOp::Jne => JmpOp::Jeq,
            JmpOp::Jgt => JmpOp::Jle,
            JmpOp::Jle => JmpOp::Jgt,
            JmpOp::Jge => JmpOp::Jlt,
            JmpOp::Jlt => JmpOp::Jge,
            JmpOp::Jsgt => JmpOp::Jsle,
            JmpOp::Jsle => JmpOp::Jsgt,
            JmpOp::Jsge => JmpOp::Jslt,
            JmpOp::Jslt => JmpOp::Jsge,
            JmpOp::Jset => return None,
        };
        Some(opposite)
    }

    /// The same condition with its operands exchanged: `a > b` is `b < a`.
    pub fn swap(self) -> JmpOp {
        match self {
            JmpOp::Jeq | JmpOp::Jne | JmpOp::Jset => self,
            JmpOp::Jgt => JmpOp::Jlt,
            JmpOp::Jlt => JmpOp::Jgt,
            JmpOp::Jge => JmpOp::Jle,
            JmpOp::Jle => JmpOp::Jge,
            JmpOp::Jsgt => JmpOp::Jslt,
            JmpOp::Jslt => JmpOp::Jsgt,
            JmpOp::Jsge => JmpOp::Jsle,
            JmpOp::Jsle => JmpOp::Jsge,
        }
    }

    /// The comparison operator used in listings.
    pub fn symbol(self) -> &'static str {
        match self {
            JmpOp::Jeq => "==",
            JmpOp::Jgt => ">",
            JmpOp::Jge => ">=",
            JmpOp::Jset => "&",
            JmpOp::Jne => "!=",
            JmpOp::Jsgt => "s>",
            JmpOp::Jsge => "s>=",
            JmpOp::Jlt => "<",
            JmpOp::Jle => "<=",
            JmpOp::Jslt => "s<",
            JmpOp::Jsle => "s<=",
        }
    }
}

/// Byte-order operations (BPF_END).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ByteOrder {
    /// Convert host order to little-endian (a truncation/zero-extension on little-endian hosts).
    ToLe,
    /// Convert host order to big-endian.
    ToBe,
    /// Unconditional byte swap (cpu v4, BPF_ALU64 class).
    Swap,
}

/// Width of a byte-order operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SwapWidth {
    Bits16,
    Bits32,
    Bits64,
}

impl SwapWidth {
    pub fn bits(self) -> i32 {
        match self {
            SwapWidth::Bits16 => 16,
            SwapWidth::Bits32 => 32,
            SwapWidth::Bits64 => 64,
        }
    }

    pub fn from_bits(bits: i32) -> Option<SwapWidth> {
        match bits {
            16 => Some(SwapWidth::Bits16),
            32 => Some(SwapWidth::Bits32),
            64 => Some(SwapWidth::Bits64),
            _ => None,
        }
    }
}
