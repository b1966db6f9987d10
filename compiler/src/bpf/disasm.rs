//! Stage `emit`, listing: turns a program into text a person can read (`bpfq explain`).
//! Guarantees: one line per instruction in the style of `bpftool prog dump xlated`
//! (`   7: (85) call bpf_seq_write#127`), each note printed as a `; note` line before the
//! instruction it is attached to; any byte pattern, valid or not, gives a line, never a panic.

use std::fmt::Write;

use super::asm::Program;
use super::insn::Insn;
use super::opcode::{
    AluOp, JmpOp, Size, SwapWidth, ALU_END, ATOMIC_ADD, ATOMIC_AND, ATOMIC_CMPXCHG, ATOMIC_FETCH,
    ATOMIC_OR, ATOMIC_XCHG, ATOMIC_XOR, CLASS_ALU, CLASS_ALU64, CLASS_JMP, CLASS_JMP32, CLASS_LD,
    CLASS_LDX, CLASS_ST, CLASS_STX, JMP_CALL, JMP_EXIT, JMP_JA, MODE_ATOMIC, MODE_MASK, MODE_MEM,
    MODE_MEMSX, OPCODE_LD_IMM64, OP_MASK, PSEUDO_CALL, PSEUDO_KFUNC_CALL, PSEUDO_MAP_FD,
    PSEUDO_MAP_VALUE, SRC_X,
};

/// The listing of `program`. `helper_name` names helper ids (`127` -> `bpf_seq_write`); ids it
/// does not know are shown by number only.
pub fn disassemble(program: &Program, helper_name: &dyn Fn(i32) -> Option<String>) -> String {
    let mut notes: Vec<&(usize, String)> = program.notes.iter().collect();
    // Stable: notes attached to one instruction keep their emission order.
    notes.sort_by_key(|(index, _)| *index);
    let mut notes = notes.into_iter().peekable();

    let mut out = String::new();
    let mut index = 0;
    while index < program.insns.len() {
        let insn = &program.insns[index];
        let next = program.insns.get(index + 1);
        let slots = if insn.is_ld_imm64() && next.is_some() {
            2
        } else {
            1
        };
        // Notes attached to the second slot of an ld_imm64 belong to the whole instruction.
        while let Some((_, note)) = notes.next_if(|(at, _)| *at < index + slots) {
            let _ = writeln!(out, "; {note}");
        }
        let text = describe(insn, next, helper_name);
        let _ = writeln!(out, "{index:>4}: ({:02x}) {text}", insn.code);
        index += slots;
    }
    for (_, note) in notes {
        let _ = writeln!(out, "; {note}");
    }
    out
}

/// Text of one instruction; `next` is the following slot (the high half of an `ld_imm64`).
pub fn describe(
    insn: &Insn,
    next: Option<&Insn>,
    helper_name: &dyn Fn(i32) -> Option<String>,
) -> String {
    let described = match insn.class() {
        CLASS_ALU => describe_alu(insn, 'w'),
        CLASS_ALU64 => describe_alu(insn, 'r'),
        CLASS_LD => describe_ld(insn, next),
        CLASS_LDX => describe_load(insn),
        CLASS_ST => describe_store_imm(insn),
        CLASS_STX => describe_store(insn),
        CLASS_JMP => describe_jump(insn, 'r', helper_name),
        CLASS_JMP32 => describe_jump(insn, 'w', helper_name),
        _ => None,
    };
    described.unwrap_or_else(|| invalid(insn))
}

fn invalid(insn: &Insn) -> String {
    format!(
        "invalid: dst={} src={} off={} imm={}",
        insn.dst, insn.src, insn.off, insn.imm
    )
}

fn describe_alu(insn: &Insn, reg: char) -> Option<String> {
    let dst = insn.dst;
    let source = if insn.code & SRC_X != 0 {
        format!("{reg}{}", insn.src)
    } else {
        insn.imm.to_string()
    };
    if insn.code & OP_MASK == ALU_END {
        let width = SwapWidth::from_bits(insn.imm)?.bits();
        let name = match (insn.class(), insn.code & SRC_X != 0) {
            (CLASS_ALU, false) => "le",
            (CLASS_ALU, true) => "be",
            (_, false) => "bswap",
            (_, true) => return None,
        };
        return Some(format!("r{dst} = {name}{width} r{dst}"));
    }
    if insn.code & OP_MASK == AluOp::Mov.code() && insn.off != 0 && insn.code & SRC_X != 0 {
        // cpu v4 MOVSX: `off` is the number of source bits to sign-extend.
        let allowed = if reg == 'r' {
            &[8, 16, 32][..]
        } else {
            &[8, 16][..]
        };
        if !allowed.contains(&insn.off) {
            return None;
        }
        return Some(format!("{reg}{dst} = (s{}){source}", insn.off));
    }
    let op = AluOp::from_code(insn.code, insn.off)?;
    Some(match op {
        AluOp::Neg => format!("{reg}{dst} = -{reg}{dst}"),
        _ => format!("{reg}{dst} {} {source}", op.symbol()),
    })
}

fn describe_ld(insn: &Insn, next: Option<&Insn>) -> Option<String> {
    if insn.code != OPCODE_LD_IMM64 {
        // Legacy packet loads (BPF_ABS/BPF_IND) are not valid in tracing programs.
        return None;
    }
    let Some(high) = next else {
        return Some(format!(
            "r{} = <ld_imm64 missing its second slot>",
            insn.dst
        ));
    };
    let low = insn.imm as u32;
    let value = u64::from(low) | (u64::from(high.imm as u32) << 32);
    let dst = insn.dst;
    Some(match insn.src {
        0 => format!("r{dst} = {value:#x}"),
        PSEUDO_MAP_FD => format!("r{dst} = map[fd:{}]", insn.imm),
        PSEUDO_MAP_VALUE => format!("r{dst} = map_value[fd:{}]{:+}", insn.imm, high.imm),
        other => format!("r{dst} = pseudo#{other} {value:#x}"),
    })
}

fn size_name(size: Size) -> &'static str {
    match size {
        Size::B => "8",
        Size::H => "16",
        Size::W => "32",
        Size::DW => "64",
    }
}

fn describe_load(insn: &Insn) -> Option<String> {
    let size = Size::from_code(insn.code);
    let sign = match insn.code & MODE_MASK {
        MODE_MEM => 'u',
        MODE_MEMSX if size != Size::DW => 's',
        _ => return None,
    };
    Some(format!(
        "r{} = *({sign}{} *)(r{} {:+})",
        insn.dst,
        size_name(size),
        insn.src,
        insn.off
    ))
}

fn describe_store_imm(insn: &Insn) -> Option<String> {
    if insn.code & MODE_MASK != MODE_MEM {
        return None;
    }
    let size = Size::from_code(insn.code);
    Some(format!(
        "*(u{} *)(r{} {:+}) = {}",
        size_name(size),
        insn.dst,
        insn.off,
        insn.imm
    ))
}

fn describe_store(insn: &Insn) -> Option<String> {
    let size = Size::from_code(insn.code);
    let place = format!("(u{} *)(r{} {:+})", size_name(size), insn.dst, insn.off);
    match insn.code & MODE_MASK {
        MODE_MEM => Some(format!("*{place} = r{}", insn.src)),
        MODE_ATOMIC => describe_atomic(insn, size, &place),
        _ => None,
    }
}

fn describe_atomic(insn: &Insn, size: Size, place: &str) -> Option<String> {
    let (reg, width) = match size {
        Size::W => ('w', "32"),
        Size::DW => ('r', "64"),
        _ => return None,
    };
    let src = insn.src;
    let operator = |op: i32| match op {
        ATOMIC_ADD => Some(("+=", "add")),
        ATOMIC_OR => Some(("|=", "or")),
        ATOMIC_AND => Some(("&=", "and")),
        ATOMIC_XOR => Some(("^=", "xor")),
        _ => None,
    };
    Some(match insn.imm {
        ATOMIC_XCHG => format!("{reg}{src} = atomic{width}_xchg({place}, {reg}{src})"),
        ATOMIC_CMPXCHG => {
            format!("{reg}0 = atomic{width}_cmpxchg({place}, {reg}0, {reg}{src})")
        }
        imm if imm & ATOMIC_FETCH != 0 => {
            let (_, name) = operator(imm & !ATOMIC_FETCH)?;
            format!("{reg}{src} = atomic{width}_fetch_{name}({place}, {reg}{src})")
        }
        imm => {
            let (symbol, _) = operator(imm)?;
            format!("lock *{place} {symbol} {reg}{src}")
        }
    })
}

/// `pc+3` / `pc-4`: the target is that many slots after the next one.
fn pc_relative(off: i64) -> String {
    format!("pc{off:+}")
}

fn hex_imm(imm: i32) -> String {
    if imm < 0 {
        format!("-{:#x}", i64::from(imm).unsigned_abs())
    } else {
        format!("{imm:#x}")
    }
}

fn describe_jump(
    insn: &Insn,
    reg: char,
    helper_name: &dyn Fn(i32) -> Option<String>,
) -> Option<String> {
    let is_jmp64 = reg == 'r';
    match insn.code & OP_MASK {
        JMP_JA if is_jmp64 => Some(format!("goto {}", pc_relative(insn.off.into()))),
        // cpu v4 `gotol`: BPF_JMP32 | BPF_JA with a 32-bit offset in imm.
        JMP_JA => Some(format!("gotol {}", pc_relative(insn.imm.into()))),
        JMP_CALL if is_jmp64 => Some(match insn.src {
            0 => match helper_name(insn.imm) {
                Some(name) => format!("call {name}#{}", insn.imm),
                None => format!("call #{}", insn.imm),
            },
            PSEUDO_CALL => format!("call {}", pc_relative(insn.imm.into())),
            PSEUDO_KFUNC_CALL => format!("call kfunc#{}", insn.imm),
            _ => return None,
        }),
        JMP_EXIT if is_jmp64 => Some("exit".to_string()),
        _ => {
            let op = JmpOp::from_code(insn.code)?;
            let source = if insn.code & SRC_X != 0 {
                format!("{reg}{}", insn.src)
            } else {
                hex_imm(insn.imm)
            };
            Some(format!(
                "if {reg}{} {} {source} goto {}",
                insn.dst,
                op.symbol(),
                pc_relative(insn.off.into())
            ))
        }
    }
}
