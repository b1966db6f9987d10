//! Encoder vs an independent oracle: each instruction built with `bpfq_compiler::bpf` must encode
//! to the same bytes that LLVM's BPF assembler (llvm-mc) produces for the same assembly text.

use std::io::Write;
use std::process::{Command, Stdio};

use bpfq_compiler::bpf::{encode, AluOp, Insn, JmpOp, Operand, Reg, Size, SwapWidth};

const R0: Reg = Reg::R0;
const R1: Reg = Reg::R1;
const R2: Reg = Reg::R2;
const R6: Reg = Reg::R6;
const R7: Reg = Reg::R7;
const R10: Reg = Reg::R10;

fn x(reg: Reg) -> Operand {
    Operand::Reg(reg)
}

fn k(imm: i32) -> Operand {
    Operand::Imm(imm)
}

/// (our instruction slots, the same instruction in LLVM's BPF assembly syntax).
fn cases() -> Vec<(Vec<Insn>, &'static str)> {
    let one = |insn: Insn, text| (vec![insn], text);
    let alu = [
        (AluOp::Add, "+="),
        (AluOp::Sub, "-="),
        (AluOp::Mul, "*="),
        (AluOp::Div, "/="),
        (AluOp::Or, "|="),
        (AluOp::And, "&="),
        (AluOp::Lsh, "<<="),
        (AluOp::Rsh, ">>="),
        (AluOp::Xor, "^="),
        (AluOp::Mov, "="),
        (AluOp::Arsh, "s>>="),
    ];
    let mut cases = Vec::new();
    for (op, symbol) in alu {
        let texts: [&'static str; 4] = [
            leak(format!("r6 {symbol} r7")),
            leak(format!("r6 {symbol} -5")),
            leak(format!("w6 {symbol} w7")),
            leak(format!("w6 {symbol} 7")),
        ];
        cases.push(one(Insn::alu64(op, R6, x(R7)), texts[0]));
        cases.push(one(Insn::alu64(op, R6, k(-5)), texts[1]));
        cases.push(one(Insn::alu32(op, R6, x(R7)), texts[2]));
        cases.push(one(Insn::alu32(op, R6, k(7)), texts[3]));
    }
    cases.push(one(Insn::alu64(AluOp::Neg, R1, k(0)), "r1 = -r1"));
    cases.push(one(Insn::alu32(AluOp::Neg, R1, k(0)), "w1 = -w1"));
    cases.push(one(Insn::mov64(R0, k(i32::MAX)), "r0 = 2147483647"));
    cases.push(one(Insn::mov64(R6, x(R1)), "r6 = r1"));
    cases.push(one(Insn::mov32(R0, k(-1)), "w0 = -1"));

    let sizes = [
        (Size::B, "u8"),
        (Size::H, "u16"),
        (Size::W, "u32"),
        (Size::DW, "u64"),
    ];
    for (size, name) in sizes {
        cases.push(one(
            Insn::load(size, R1, R7, 2412),
            leak(format!("r1 = *({name} *)(r7 + 2412)")),
        ));
        cases.push(one(
            Insn::load(size, R2, R10, -16),
            leak(format!("r2 = *({name} *)(r10 - 16)")),
        ));
        cases.push(one(
            Insn::store(size, R10, -8, R1),
            leak(format!("*({name} *)(r10 - 8) = r1")),
        ));
    }
    cases.push(one(
        Insn::load(Size::DW, R1, R1, i16::MAX),
        "r1 = *(u64 *)(r1 + 32767)",
    ));
    cases.push(one(
        Insn::load(Size::DW, R1, R1, i16::MIN),
        "r1 = *(u64 *)(r1 - 32768)",
    ));

    cases.push((
        Insn::ld_imm64(R2, 0x6d6d_6f63).to_vec(),
        "r2 = 0x6d6d6f63 ll",
    ));
    cases.push((
        Insn::ld_imm64(R1, 0x1_2345_6789).to_vec(),
        "r1 = 0x123456789 ll",
    ));
    cases.push((Insn::ld_imm64(R1, u64::MAX).to_vec(), "r1 = -1 ll"));
    cases.push((
        Insn::ld_imm64(R7, 0x8000_0000_ffff_0001).to_vec(),
        "r7 = 0x80000000ffff0001 ll",
    ));

    cases.push(one(Insn::call_helper(127), "call 127"));
    cases.push(one(Insn::exit(), "exit"));
    cases.push(one(Insn::goto(12), "goto +12"));
    cases.push(one(Insn::goto(-1), "goto -1"));

    // LLVM 14 does not know `&` (JSET) in assembly; it is checked in bpf_roundtrip.rs.
    let conditions = [
        (JmpOp::Jeq, "=="),
        (JmpOp::Jne, "!="),
        (JmpOp::Jgt, ">"),
        (JmpOp::Jge, ">="),
        (JmpOp::Jlt, "<"),
        (JmpOp::Jle, "<="),
        (JmpOp::Jsgt, "s>"),
        (JmpOp::Jsge, "s>="),
        (JmpOp::Jslt, "s<"),
        (JmpOp::Jsle, "s<="),
    ];
    for (op, symbol) in conditions {
        cases.push(one(
            Insn::jump(op, R1, x(R2), 3),
            leak(format!("if r1 {symbol} r2 goto +3")),
        ));
        cases.push(one(
            Insn::jump(op, R7, k(-3), -4),
            leak(format!("if r7 {symbol} -3 goto -4")),
        ));
        cases.push(one(
            Insn::jump32(op, R1, x(R2), 3),
            leak(format!("if w1 {symbol} w2 goto +3")),
        ));
        cases.push(one(
            Insn::jump32(op, R6, k(42), 100),
            leak(format!("if w6 {symbol} 42 goto +100")),
        ));
    }

    for (width, bits) in [
        (SwapWidth::Bits16, 16),
        (SwapWidth::Bits32, 32),
        (SwapWidth::Bits64, 64),
    ] {
        cases.push(one(
            Insn::to_le(R1, width),
            leak(format!("r1 = le{bits} r1")),
        ));
        cases.push(one(
            Insn::to_be(R6, width),
            leak(format!("r6 = be{bits} r6")),
        ));
    }

    cases.push(one(
        Insn::atomic_add64(R1, 8, R2),
        "lock *(u64 *)(r1 + 8) += r2",
    ));
    cases.push(one(
        Insn::atomic_add32(R1, -4, R2),
        "lock *(u32 *)(r1 - 4) += w2",
    ));
    cases
}

/// Case texts are built once per test run; leaking them keeps the table simple.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn find_llvm_mc() -> Option<String> {
    let candidates = std::env::var("LLVM_MC").into_iter().chain(
        [
            "llvm-mc",
            "llvm-mc-14",
            "llvm-mc-15",
            "llvm-mc-16",
            "llvm-mc-17",
            "llvm-mc-18",
        ]
        .into_iter()
        .map(String::from),
    );
    for candidate in candidates {
        let works = Command::new(&candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if works {
            return Some(candidate);
        }
    }
    None
}

/// Assembles every line with llvm-mc and returns the encoding bytes of each, in order.
fn llvm_encodings(llvm_mc: &str, lines: &[&str]) -> Vec<Vec<u8>> {
    let mut child = Command::new(llvm_mc)
        .args(["-triple", "bpf", "-mattr=+alu32", "-show-encoding"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("llvm-mc starts");
    let input = lines.join("\n") + "\n";
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("write to llvm-mc");
    let output = child.wait_with_output().expect("llvm-mc finishes");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "llvm-mc rejected some input:\n{stderr}"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once("encoding: [").map(|(_, rest)| rest))
        .map(|rest| {
            rest.trim_end_matches(']')
                .split(',')
                .map(|byte| {
                    u8::from_str_radix(byte.trim().trim_start_matches("0x"), 16)
                        .expect("llvm-mc prints hex bytes")
                })
                .collect()
        })
        .collect()
}

#[test]
fn encoder_matches_llvm_mc_byte_for_byte() {
    let Some(llvm_mc) = find_llvm_mc() else {
        eprintln!("SKIPPED: llvm-mc not found (install llvm or set LLVM_MC); encoder not checked against LLVM");
        return;
    };
    let cases = cases();
    let texts: Vec<&str> = cases.iter().map(|(_, text)| *text).collect();
    let expected = llvm_encodings(&llvm_mc, &texts);
    assert_eq!(expected.len(), cases.len(), "one encoding per input line");
    let mut mismatches = Vec::new();
    for ((insns, text), llvm_bytes) in cases.iter().zip(&expected) {
        let ours = encode(insns);
        if &ours != llvm_bytes {
            mismatches.push(format!(
                "{text}: ours {ours:02x?}, llvm-mc {llvm_bytes:02x?}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "encodings differ:\n{}",
        mismatches.join("\n")
    );
    assert!(
        cases.len() > 100,
        "the table covers every form llvm-mc 14 knows"
    );
}
