//! Test support: hand-assembled `iter/task` programs that go wrong on purpose — refused by the
//! verifier, writing more than the kernel's 32 KiB per object, or ending in the middle of a row
//! — and the smallest program under a name of its own (a program bpfq did not make), loaded
//! through the runtime API (no query can produce them).

use bpfq_runtime::loader::{load_iter_program, IterProgramSpec, LoadError, LoadedProgram};

use bpfq_compiler::bpf::{encode, AluOp, Insn, JmpOp, Operand, Reg, Size};
use bpfq_kernel::helpers;

/// Bytes one `bpf_seq_write` of the oversized program sends.
pub const CHUNK: i32 = 256;

/// `bpf_seq_write(ctx->meta->seq, fp - CHUNK, len)`, with ctx in r6.
fn seq_write(len: i32) -> Vec<Insn> {
    vec![
        Insn::load(Size::DW, Reg::R1, Reg::R6, 0), // r1 = ctx->meta
        Insn::load(Size::DW, Reg::R1, Reg::R1, 0), // r1 = meta->seq
        Insn::mov64(Reg::R2, Operand::Reg(Reg::R10)),
        Insn::alu64(AluOp::Add, Reg::R2, Operand::Imm(-CHUNK)),
        Insn::mov64(Reg::R3, Operand::Imm(len)),
        Insn::call_helper(helpers::SEQ_WRITE),
    ]
}

/// Zeroes the CHUNK bytes below the frame pointer (the verifier refuses uninitialised reads).
fn zero_chunk() -> Vec<Insn> {
    (1..=CHUNK / 8)
        .map(|k| Insn::store_imm(Size::DW, Reg::R10, (-8 * k) as i16, 0))
        .collect()
}

fn exit_zero() -> Vec<Insn> {
    vec![Insn::mov64(Reg::R0, Operand::Imm(0)), Insn::exit()]
}

/// `if r7 == 0 goto +skip`: r7 holds ctx->task, NULL on the final call.
fn skip_if_no_task(skip: usize) -> Insn {
    Insn::jump(JmpOp::Jeq, Reg::R7, Operand::Imm(0), skip as i16)
}

/// r6 = ctx, r7 = ctx->task.
fn prologue() -> Vec<Insn> {
    vec![
        Insn::mov64(Reg::R6, Operand::Reg(Reg::R1)),
        Insn::load(Size::DW, Reg::R7, Reg::R1, 8),
    ]
}

/// Exits without setting r0: the verifier refuses it ("R0 !read_ok").
pub fn refused_by_verifier() -> Vec<u8> {
    encode(&[Insn::exit()])
}

/// Writes `writes` * CHUNK bytes for every task: more than 32 KiB makes read(2) fail with E2BIG.
pub fn oversized_rows(writes: usize) -> Vec<u8> {
    let mut body = zero_chunk();
    for _ in 0..writes {
        body.extend(seq_write(CHUNK));
    }
    let mut program = prologue();
    program.push(skip_if_no_task(body.len()));
    program.extend(body);
    program.extend(exit_zero());
    encode(&program)
}

/// Writes an 8-byte row per task and one stray byte on the final call (task == NULL): read as
/// 8-byte rows, the stream always ends one byte into a row.
pub fn torn_last_row() -> Vec<u8> {
    let one_byte = seq_write(1);
    let row = seq_write(8);
    let mut program = prologue();
    program.extend(zero_chunk());
    // if task == NULL: skip the row write and its jump over the one-byte write.
    program.push(skip_if_no_task(row.len() + 1));
    program.extend(row);
    program.push(Insn::goto(one_byte.len() as i16));
    program.extend(one_byte);
    program.extend(exit_zero());
    encode(&program)
}

/// The running kernel's BTF id of FUNC `bpf_iter_task` (found with bpfq's BTF reader; the
/// kernel checks it at load time anyway).
pub fn iter_task_func_id() -> u32 {
    iter_func_id("task")
}

/// The BTF id of FUNC `bpf_iter_<target>` in the running kernel's BTF.
pub fn iter_func_id(target: &str) -> u32 {
    let btf = bpfq_kernel::Btf::from_file(std::path::Path::new("/sys/kernel/btf/vmlinux"))
        .expect("vmlinux BTF");
    let found = bpfq_kernel::catalogue::find_target(&btf, target)
        .expect("BTF readable")
        .unwrap_or_else(|| panic!("iter/{target}"));
    found.attach_func.expect("bpf_iter_ FUNC").0
}

/// Whether the kernel loads the smallest program (`r0 = 0; exit`) on iterator `target`: some
/// kernels deny whole targets by policy (EPERM with every capability held), whatever bpfq emits.
pub fn smallest_program_loads(target: &str) -> Result<(), LoadError> {
    let spec = IterProgramSpec {
        name: "bpfq_t_smallest",
        insns: &encode(&exit_zero()),
        license: "GPL",
        attach_btf_id: iter_func_id(target),
    };
    load_iter_program(&spec, false).map(drop)
}

/// Loads `insns` as an `iter/task` program named `name` (start it with `bpfq_` to be counted).
pub fn load(name: &str, insns: &[u8]) -> Result<LoadedProgram, LoadError> {
    let spec = IterProgramSpec {
        name,
        insns,
        license: "GPL",
        attach_btf_id: iter_task_func_id(),
    };
    load_iter_program(&spec, false)
}

/// The smallest `iter/task` program (`r0 = 0; exit`) loaded under `name`: a program bpfq did not
/// make when `name` does not start with `bpfq_`.
pub fn smallest_task_program(name: &str) -> Result<LoadedProgram, LoadError> {
    load(name, &encode(&exit_zero()))
}
