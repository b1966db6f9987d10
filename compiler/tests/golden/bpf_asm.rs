//! Assembler: labels resolve to pc-relative offsets counted in slots (ld_imm64 = 2), and every
//! way a jump can be wrong is an error, not a bad program.

use bpfq_compiler::bpf::{AsmError, Assembler, Insn, JmpOp, Operand, Reg};

#[test]
fn forward_jump_skips_the_instructions_between() {
    let mut asm = Assembler::new();
    let skip = asm.new_label();
    asm.jump(JmpOp::Jeq, Reg::R1, Operand::Imm(0), skip); // 0
    asm.emit(Insn::mov64(Reg::R0, Operand::Imm(1))); // 1
    asm.emit(Insn::mov64(Reg::R0, Operand::Imm(2))); // 2
    asm.bind(skip);
    asm.emit(Insn::exit()); // 3
    let program = asm.finish().expect("assembles");
    assert_eq!(
        program.insns[0],
        Insn::jump(JmpOp::Jeq, Reg::R1, Operand::Imm(0), 2)
    );
    assert_eq!(program.insns.len(), 4);
}

#[test]
fn backward_jump_has_a_negative_offset() {
    let mut asm = Assembler::new();
    let top = asm.new_label();
    asm.emit(Insn::mov64(Reg::R1, Operand::Imm(10))); // 0
    asm.bind(top);
    asm.emit(Insn::alu64(
        bpfq_compiler::bpf::AluOp::Sub,
        Reg::R1,
        Operand::Imm(1),
    )); // 1
    asm.jump32(JmpOp::Jne, Reg::R1, Operand::Imm(0), top); // 2: pc+1-2 = 1
    asm.goto(top); // 3
    asm.emit(Insn::exit()); // 4
    let program = asm.finish().expect("assembles");
    assert_eq!(
        program.insns[2],
        Insn::jump32(JmpOp::Jne, Reg::R1, Operand::Imm(0), -2)
    );
    assert_eq!(program.insns[3], Insn::goto(-3));
}

#[test]
fn jump_to_itself_is_offset_minus_one() {
    let mut asm = Assembler::new();
    let here = asm.new_label();
    asm.bind(here);
    asm.goto(here);
    let program = asm.finish().expect("assembles");
    assert_eq!(program.insns[0].off, -1);
}

#[test]
fn ld_imm64_counts_two_slots_in_distances() {
    let mut asm = Assembler::new();
    let after = asm.new_label();
    let before = asm.new_label();
    asm.bind(before);
    asm.jump(JmpOp::Jgt, Reg::R1, Operand::Reg(Reg::R2), after); // 0
    asm.emit_ld_imm64(Reg::R3, 0x1234_5678_9abc_def0); // 1, 2
    asm.emit_ld_map_fd(Reg::R4, 7); // 3, 4
    asm.goto(before); // 5
    asm.bind(after);
    asm.emit(Insn::exit()); // 6
    assert_eq!(asm.len(), 7);
    let program = asm.finish().expect("assembles");
    assert_eq!(program.insns[0].off, 5, "0 -> 6 over two ld_imm64");
    assert_eq!(program.insns[5].off, -6, "5 -> 0");
}

#[test]
fn len_and_is_empty_count_slots() {
    let mut asm = Assembler::new();
    assert!(asm.is_empty());
    asm.emit_ld_imm64(Reg::R1, 1);
    assert_eq!(asm.len(), 2);
    assert!(!asm.is_empty());
}

#[test]
fn unbound_label_is_an_error() {
    let mut asm = Assembler::new();
    let nowhere = asm.new_label();
    asm.emit(Insn::mov64(Reg::R0, Operand::Imm(0)));
    asm.goto(nowhere);
    asm.emit(Insn::exit());
    let error = asm.finish().expect_err("label never bound");
    assert!(
        matches!(error, AsmError::UnboundLabel { at: 1, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("never bound"), "{error}");
}

#[test]
fn label_bound_twice_is_an_error() {
    let mut asm = Assembler::new();
    let label = asm.new_label();
    asm.bind(label);
    asm.emit(Insn::exit());
    asm.bind(label);
    asm.emit(Insn::exit());
    let error = asm.finish().expect_err("bound twice");
    assert_eq!(
        error,
        AsmError::LabelBoundTwice {
            label,
            first: 0,
            second: 1
        }
    );
}

#[test]
fn label_from_another_assembler_is_an_error() {
    let mut other = Assembler::new();
    let _ = other.new_label();
    let foreign = other.new_label();
    let mut asm = Assembler::new();
    asm.goto(foreign);
    asm.emit(Insn::exit());
    let error = asm.finish().expect_err("label of another assembler");
    assert_eq!(error, AsmError::ForeignLabel { label: foreign });
}

#[test]
fn jump_to_the_end_of_the_program_is_an_error() {
    let mut asm = Assembler::new();
    let end = asm.new_label();
    asm.jump(JmpOp::Jeq, Reg::R1, Operand::Imm(0), end);
    asm.emit(Insn::exit());
    asm.bind(end);
    let error = asm.finish().expect_err("nothing at the end");
    assert!(
        matches!(error, AsmError::JumpPastEnd { at: 0, .. }),
        "{error:?}"
    );
}

fn program_with_padding(padding: usize) -> Result<bpfq_compiler::bpf::Program, AsmError> {
    let mut asm = Assembler::new();
    let far = asm.new_label();
    asm.goto(far);
    for _ in 0..padding {
        asm.emit(Insn::mov64(Reg::R0, Operand::Imm(0)));
    }
    asm.bind(far);
    asm.emit(Insn::exit());
    asm.finish()
}

#[test]
fn largest_forward_offset_fits() {
    let program = program_with_padding(i16::MAX as usize).expect("offset 32767 fits");
    assert_eq!(program.insns[0].off, i16::MAX);
}

#[test]
fn offset_overflow_is_an_error() {
    let error = program_with_padding(i16::MAX as usize + 1).expect_err("offset 32768");
    assert_eq!(
        error,
        AsmError::JumpOutOfRange {
            at: 0,
            target: 32769,
            distance: 32768
        }
    );
}

#[test]
fn backward_overflow_is_an_error() {
    let mut asm = Assembler::new();
    let top = asm.new_label();
    asm.bind(top);
    for _ in 0..32768 {
        asm.emit(Insn::mov64(Reg::R0, Operand::Imm(0)));
    }
    asm.goto(top); // at 32768: offset -32769
    asm.emit(Insn::exit());
    let error = asm.finish().expect_err("offset -32769");
    assert!(
        matches!(
            error,
            AsmError::JumpOutOfRange {
                distance: -32769,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn notes_attach_to_the_next_instruction() {
    let mut asm = Assembler::new();
    asm.emit(Insn::mov64(Reg::R6, Operand::Reg(Reg::R1)));
    asm.annotate("where pid == 42");
    asm.annotate(String::from("second note, same instruction"));
    asm.emit_ld_imm64(Reg::R1, 42);
    asm.annotate("column comm");
    asm.emit(Insn::exit());
    asm.annotate("trailing");
    let program = asm.finish().expect("assembles");
    assert_eq!(
        program.notes,
        vec![
            (1, "where pid == 42".to_string()),
            (1, "second note, same instruction".to_string()),
            (3, "column comm".to_string()),
            (4, "trailing".to_string()),
        ]
    );
}

#[test]
fn note_at_names_the_clause_of_an_instruction() {
    use bpfq_compiler::bpf::asm::Assembler;
    use bpfq_compiler::bpf::insn::{Insn, Operand, Reg};
    let mut asm = Assembler::new();
    asm.annotate("where pid == 1");
    asm.emit(Insn::mov64(Reg::R0, Operand::Imm(0)));
    asm.emit(Insn::mov64(Reg::R1, Operand::Imm(0)));
    asm.annotate("column comm");
    asm.emit(Insn::exit());
    let program = asm.finish().expect("assembles");
    assert_eq!(program.note_at(0), Some("where pid == 1"));
    assert_eq!(program.note_at(1), Some("where pid == 1"));
    assert_eq!(program.note_at(2), Some("column comm"));
}
