//! Encoding facts llvm-mc 14 cannot check (cpu v4 forms, JSET, BPF_ST, MOD, pseudo loads), taken
//! from the opcode tables of the kernel's instruction-set document, plus encode/decode round trips.

use bpfq_compiler::bpf::{
    decode, encode, AluOp, ByteOrder, Insn, JmpOp, Operand, Reg, Size, SwapWidth,
};

/// Each expected byte string is written out from the ISA tables: opcode = operation | source |
/// class (ALU64 0x07, ALU 0x04, JMP 0x05, JMP32 0x06, LDX 0x01, ST 0x02, STX 0x03) or
/// mode | size | class for memory (MEM 0x60, MEMSX 0x80; W 0x00, H 0x08, B 0x10, DW 0x18);
/// byte 1 = src << 4 | dst; then off and imm little-endian.
#[test]
fn forms_unknown_to_llvm_14_match_the_isa_tables() {
    let r1 = Reg::R1;
    let r2 = Reg::R2;
    let cases: Vec<(&str, Insn, [u8; 8])> = vec![
        // BPF_MOD (0x90) | BPF_X | ALU64.
        (
            "r1 %= r2",
            Insn::alu64(AluOp::Mod, r1, Operand::Reg(r2)),
            [0x9f, 0x21, 0, 0, 0, 0, 0, 0],
        ),
        // BPF_MOD | BPF_K | ALU, imm 7.
        (
            "w1 %= 7",
            Insn::alu32(AluOp::Mod, r1, Operand::Imm(7)),
            [0x94, 0x01, 0, 0, 7, 0, 0, 0],
        ),
        // Signed division: BPF_DIV (0x30) with off = 1.
        (
            "r1 s/= r2",
            Insn::alu64(AluOp::SDiv, r1, Operand::Reg(r2)),
            [0x3f, 0x21, 1, 0, 0, 0, 0, 0],
        ),
        (
            "w1 s/= -3",
            Insn::alu32(AluOp::SDiv, r1, Operand::Imm(-3)),
            [0x34, 0x01, 1, 0, 0xfd, 0xff, 0xff, 0xff],
        ),
        // Signed modulo: BPF_MOD with off = 1.
        (
            "r1 s%= r2",
            Insn::alu64(AluOp::SMod, r1, Operand::Reg(r2)),
            [0x9f, 0x21, 1, 0, 0, 0, 0, 0],
        ),
        // BPF_JSET (0x40) | BPF_X | JMP.
        (
            "if r1 & r2 goto +1",
            Insn::jump(JmpOp::Jset, r1, Operand::Reg(r2), 1),
            [0x4d, 0x21, 1, 0, 0, 0, 0, 0],
        ),
        // BPF_JSET | BPF_K | JMP32.
        (
            "if w1 & 0x4 goto -2",
            Insn::jump32(JmpOp::Jset, r1, Operand::Imm(4), -2),
            [0x46, 0x01, 0xfe, 0xff, 4, 0, 0, 0],
        ),
        // BPF_ST | BPF_MEM | DW: base register in dst.
        (
            "*(u64 *)(r10 -16) = 0",
            Insn::store_imm(Size::DW, Reg::R10, -16, 0),
            [0x7a, 0x0a, 0xf0, 0xff, 0, 0, 0, 0],
        ),
        (
            "*(u8 *)(r10 -1) = 255",
            Insn::store_imm(Size::B, Reg::R10, -1, 255),
            [0x72, 0x0a, 0xff, 0xff, 0xff, 0, 0, 0],
        ),
        // BPF_LDX | BPF_MEMSX | size.
        (
            "r1 = *(s8 *)(r2 +8)",
            Insn::load_signed(Size::B, r1, r2, 8),
            [0x91, 0x21, 8, 0, 0, 0, 0, 0],
        ),
        (
            "r1 = *(s16 *)(r2 +8)",
            Insn::load_signed(Size::H, r1, r2, 8),
            [0x89, 0x21, 8, 0, 0, 0, 0, 0],
        ),
        (
            "r1 = *(s32 *)(r2 -4)",
            Insn::load_signed(Size::W, r1, r2, -4),
            [0x81, 0x21, 0xfc, 0xff, 0, 0, 0, 0],
        ),
        // No MEMSX DW exists: a signed 8-byte load is the plain load (0x79).
        (
            "r1 = *(u64 *)(r2 +0)",
            Insn::load_signed(Size::DW, r1, r2, 0),
            [0x79, 0x21, 0, 0, 0, 0, 0, 0],
        ),
        // BPF_ALU64 | BPF_END (0xd0) | BPF_TO_LE: unconditional bswap, imm = width.
        (
            "r1 = bswap16 r1",
            Insn::bswap(r1, SwapWidth::Bits16),
            [0xd7, 0x01, 0, 0, 16, 0, 0, 0],
        ),
        (
            "r1 = bswap64 r1",
            Insn::endian(ByteOrder::Swap, r1, SwapWidth::Bits64),
            [0xd7, 0x01, 0, 0, 64, 0, 0, 0],
        ),
        // MOVSX: BPF_MOV (0xb0) | BPF_X with off = source bits.
        (
            "r1 = (s8)r2",
            Insn::mov64_sign_extend(r1, r2, Size::B),
            [0xbf, 0x21, 8, 0, 0, 0, 0, 0],
        ),
        (
            "r1 = (s32)r2",
            Insn::mov64_sign_extend(r1, r2, Size::W),
            [0xbf, 0x21, 32, 0, 0, 0, 0, 0],
        ),
        (
            "w1 = (s16)w2",
            Insn::mov32_sign_extend(r1, r2, Size::H),
            [0xbc, 0x21, 16, 0, 0, 0, 0, 0],
        ),
        (
            "w1 = w2",
            Insn::mov32_sign_extend(r1, r2, Size::W),
            [0xbc, 0x21, 0, 0, 0, 0, 0, 0],
        ),
    ];
    for (text, insn, expected) in cases {
        assert_eq!(insn.to_bytes(), expected, "{text}");
    }
}

#[test]
fn ld_map_fd_is_a_pseudo_ld_imm64() {
    // BPF_LD | BPF_IMM | BPF_DW (0x18) with src = BPF_PSEUDO_MAP_FD (1), fd in the low imm.
    let slots = Insn::ld_map_fd(Reg::R1, 5);
    assert_eq!(
        encode(&slots),
        [0x18, 0x11, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn ld_imm64_splits_the_value_low_half_first() {
    let [low, high] = Insn::ld_imm64(Reg::R3, 0x1122_3344_5566_7788);
    assert_eq!(low.imm as u32, 0x5566_7788);
    assert_eq!(high.imm as u32, 0x1122_3344);
    assert_eq!((low.code, low.dst, high.code, high.dst), (0x18, 3, 0, 0));
    assert_eq!(low.slots(), 2);
    assert_eq!(high.slots(), 1);
}

#[test]
fn neg_ignores_its_operand() {
    let from_reg = Insn::alu64(AluOp::Neg, Reg::R4, Operand::Reg(Reg::R9));
    assert_eq!(from_reg.to_bytes(), [0x87, 0x04, 0, 0, 0, 0, 0, 0]);
}

fn every_form() -> Vec<Insn> {
    let mut insns = vec![
        Insn::mov64(Reg::R6, Operand::Reg(Reg::R1)),
        Insn::alu32(AluOp::SMod, Reg::R9, Operand::Imm(i32::MIN)),
        Insn::load(Size::H, Reg::R0, Reg::R10, i16::MIN),
        Insn::load_signed(Size::W, Reg::R5, Reg::R8, i16::MAX),
        Insn::store_imm(Size::W, Reg::R10, -4, -1),
        Insn::store(Size::B, Reg::R1, 3, Reg::R10),
        Insn::atomic_add64(Reg::R0, 0, Reg::R1),
        Insn::call_helper(113),
        Insn::jump(JmpOp::Jsle, Reg::R3, Operand::Imm(-1), -32768),
        Insn::jump32(JmpOp::Jset, Reg::R3, Operand::Reg(Reg::R4), 32767),
        Insn::goto(0),
        Insn::to_be(Reg::R2, SwapWidth::Bits32),
        Insn::exit(),
    ];
    insns.extend(Insn::ld_imm64(Reg::R9, u64::MAX - 1));
    insns.extend(Insn::ld_map_fd(Reg::R1, i32::MAX));
    insns
}

#[test]
fn encode_then_decode_gives_back_every_slot() {
    let insns = every_form();
    let bytes = encode(&insns);
    assert_eq!(bytes.len(), insns.len() * 8);
    assert_eq!(decode(&bytes).expect("whole slots"), insns);
}

#[test]
fn decode_then_encode_gives_back_any_bytes() {
    // Any 8 bytes are a slot (meaning is the disassembler's business): arbitrary patterns survive.
    let bytes: Vec<u8> = (0u8..=255).chain((0u8..=255).rev()).collect();
    let insns = decode(&bytes).expect("512 bytes are 64 slots");
    assert_eq!(insns.len(), 64);
    assert_eq!(encode(&insns), bytes);
}

#[test]
fn decode_rejects_a_partial_slot() {
    let error = decode(&[0x95, 0, 0, 0, 0, 0, 0, 0, 0x95]).expect_err("9 bytes");
    assert_eq!(error.len, 9);
    assert!(error.to_string().contains("9 bytes"), "{error}");
}

#[test]
fn negate_gives_the_complementary_condition() {
    let all = JmpOp::CONDITIONS;
    let samples: [i64; 7] = [i64::MIN, -7, -1, 0, 1, 7, i64::MAX];
    for op in all {
        for a in samples {
            for b in samples {
                let taken = holds(op, a, b);
                if let Some(opposite) = op.negate() {
                    assert_eq!(
                        holds(opposite, a, b),
                        !taken,
                        "{op:?} vs {opposite:?} on {a}, {b}"
                    );
                    assert_eq!(opposite.negate(), Some(op));
                }
                assert_eq!(holds(op.swap(), b, a), taken, "{op:?} swapped on {a}, {b}");
            }
        }
    }
    assert_eq!(JmpOp::Jset.negate(), None);
}

/// Reference semantics of each condition on 64-bit operands, from the ISA document.
fn holds(op: JmpOp, a: i64, b: i64) -> bool {
    let (ua, ub) = (a as u64, b as u64);
    match op {
        JmpOp::Jeq => a == b,
        JmpOp::Jne => a != b,
        JmpOp::Jgt => ua > ub,
        JmpOp::Jge => ua >= ub,
        JmpOp::Jlt => ua < ub,
        JmpOp::Jle => ua <= ub,
        JmpOp::Jset => ua & ub != 0,
        JmpOp::Jsgt => a > b,
        JmpOp::Jsge => a >= b,
        JmpOp::Jslt => a < b,
        JmpOp::Jsle => a <= b,
    }
}

#[test]
fn size_bytes_round_trip() {
    for size in [Size::B, Size::H, Size::W, Size::DW] {
        assert_eq!(Size::from_bytes(size.bytes()), Some(size));
        assert_eq!(Size::from_code(size.code()), size);
    }
    assert_eq!(Size::from_bytes(3), None);
    assert_eq!(Size::from_bytes(16), None);
}

#[test]
fn alu_op_codes_round_trip() {
    let all = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Neg,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];
    for op in all {
        assert_eq!(AluOp::from_code(op.code(), op.off()), Some(op));
    }
    assert_eq!(
        AluOp::from_code(AluOp::Add.code(), 1),
        None,
        "only div/mod have signed forms"
    );
    assert_eq!(AluOp::from_code(0xe0, 0), None);
}
