//! Disassembler: the listing `bpfq explain` shows, snapshotted over every instruction form.

use bpfq_compiler::bpf::{
    decode, disassemble, AluOp, Assembler, Insn, JmpOp, Operand, Program, Reg, Size, SwapWidth,
};

fn helper_name(id: i32) -> Option<String> {
    match id {
        113 => Some("bpf_probe_read_kernel".to_string()),
        127 => Some("bpf_seq_write".to_string()),
        _ => None,
    }
}

fn every_form() -> Program {
    let (r0, r1, r2, r6, r7, r10) = (Reg::R0, Reg::R1, Reg::R2, Reg::R6, Reg::R7, Reg::R10);
    let mut asm = Assembler::new();
    let done = asm.new_label();
    let top = asm.new_label();

    asm.annotate("prologue: keep ctx");
    asm.emit(Insn::mov64(r6, Operand::Reg(r1)));
    asm.annotate("task = ctx->task");
    asm.emit(Insn::load(Size::DW, r7, r6, 8));
    asm.jump(JmpOp::Jeq, r7, Operand::Imm(0), done);
    asm.annotate("zero the row buffer");
    asm.emit(Insn::store_imm(Size::DW, r10, -16, 0));
    asm.emit(Insn::store_imm(Size::W, r10, -20, -1));
    asm.emit(Insn::store_imm(Size::H, r10, -22, 7));
    asm.emit(Insn::store_imm(Size::B, r10, -23, 255));
    asm.annotate("column pid");
    asm.emit(Insn::load(Size::W, r1, r7, 2412));
    asm.emit(Insn::load(Size::H, r1, r7, -2));
    asm.emit(Insn::load(Size::B, r1, r7, 0));
    asm.emit(Insn::load_signed(Size::B, r1, r7, 1));
    asm.emit(Insn::load_signed(Size::H, r1, r7, 2));
    asm.emit(Insn::load_signed(Size::W, r1, r7, 4));
    asm.emit(Insn::store(Size::DW, r10, -8, r1));
    asm.emit(Insn::store(Size::W, r10, -12, r1));
    asm.emit(Insn::store(Size::H, r10, -14, r1));
    asm.emit(Insn::store(Size::B, r10, -15, r1));
    asm.annotate("where pid == 42");
    asm.emit_ld_imm64(r2, 0x6d6d_6f63);
    asm.emit_ld_imm64(r2, u64::MAX);
    asm.emit_ld_map_fd(r1, 4);

    let ops = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];
    asm.annotate("64-bit ALU, register and immediate");
    for op in ops {
        asm.emit(Insn::alu64(op, r1, Operand::Reg(r2)));
        asm.emit(Insn::alu64(op, r1, Operand::Imm(-3)));
    }
    asm.emit(Insn::alu64(AluOp::Neg, r1, Operand::Imm(0)));
    asm.annotate("32-bit ALU");
    for op in ops {
        asm.emit(Insn::alu32(op, r1, Operand::Reg(r2)));
        asm.emit(Insn::alu32(op, r1, Operand::Imm(5)));
    }
    asm.emit(Insn::alu32(AluOp::Neg, r1, Operand::Imm(0)));
    asm.annotate("sign-extending moves");
    asm.emit(Insn::mov64_sign_extend(r1, r2, Size::B));
    asm.emit(Insn::mov64_sign_extend(r1, r2, Size::H));
    asm.emit(Insn::mov64_sign_extend(r1, r2, Size::W));
    asm.emit(Insn::mov32_sign_extend(r1, r2, Size::B));
    asm.emit(Insn::mov32_sign_extend(r1, r2, Size::H));
    asm.annotate("byte order");
    for width in [SwapWidth::Bits16, SwapWidth::Bits32, SwapWidth::Bits64] {
        asm.emit(Insn::to_le(r1, width));
        asm.emit(Insn::to_be(r1, width));
        asm.emit(Insn::bswap(r1, width));
    }
    asm.annotate("atomics");
    asm.emit(Insn::atomic_add64(r0, 0, r1));
    asm.emit(Insn::atomic_add32(r0, 8, r1));

    asm.annotate("jumps");
    asm.bind(top);
    let conditions = JmpOp::CONDITIONS;
    for op in conditions {
        asm.jump(op, r1, Operand::Reg(r2), done);
        asm.jump(op, r1, Operand::Imm(-1), top);
        asm.jump32(op, r1, Operand::Reg(r2), done);
        asm.jump32(op, r1, Operand::Imm(0x10), top);
    }
    asm.annotate("write the row");
    asm.emit(Insn::mov64(r1, Operand::Reg(r10)));
    asm.emit(Insn::call_helper(127));
    asm.emit(Insn::call_helper(113));
    asm.emit(Insn::call_helper(9999));
    asm.goto(top);
    asm.bind(done);
    asm.annotate("epilogue");
    asm.emit(Insn::mov64(r0, Operand::Imm(0)));
    asm.emit(Insn::exit());
    asm.finish().expect("the program assembles")
}

#[test]
fn listing_of_every_form() {
    insta::assert_snapshot!(disassemble(&every_form(), &helper_name));
}

#[test]
fn ld_imm64_takes_two_indices() {
    let mut asm = Assembler::new();
    asm.emit_ld_imm64(Reg::R2, 0x6d6d_6f63);
    asm.emit(Insn::exit());
    let listing = disassemble(&asm.finish().expect("assembles"), &helper_name);
    assert_eq!(listing, "   0: (18) r2 = 0x6d6d6f63\n   2: (95) exit\n");
}

#[test]
fn invalid_and_truncated_slots_still_give_lines() {
    let program = Program {
        insns: decode(&[
            0xff, 0x21, 0, 0, 0, 0, 0, 0, // no such opcode
            0x20, 0, 0, 0, 0, 0, 0, 0, // legacy BPF_LD | BPF_ABS
            0xd4, 0x01, 0, 0, 17, 0, 0, 0, // le17
            0x18, 0x01, 0, 0, 1, 0, 0, 0, // ld_imm64 without its second slot
        ])
        .expect("whole slots"),
        notes: vec![(9, "note past the end".to_string())],
        relocations: Vec::new(),
        formats: Vec::new(),
    };
    insta::assert_snapshot!(disassemble(&program, &helper_name));
}

#[test]
fn any_bytes_disassemble_without_panicking() {
    // A cheap deterministic generator: every opcode with assorted register/offset/imm bytes.
    let mut bytes = Vec::new();
    for code in 0u8..=255 {
        for fields in [
            [0x00, 0, 0, 0, 0, 0, 0],
            [0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
            [0x21, 1, 0, 16, 0, 0, 0],
            [0xb1, 8, 0, 1, 0, 0, 0x80],
        ] {
            bytes.push(code);
            bytes.extend(fields);
        }
    }
    let program = Program {
        insns: decode(&bytes).expect("whole slots"),
        notes: Vec::new(),
        relocations: Vec::new(),
        formats: Vec::new(),
    };
    let listing = disassemble(&program, &helper_name);
    assert!(
        listing.lines().count() >= 256 * 4 / 2,
        "one line per instruction"
    );
}
