//! Test support: hand-assembled `iter/task` programs that go wrong on purpose — refused by the
//! verifier, writing more than the kernel's 32 KiB per object, or ending in the middle of a row
//! — loaded through the runtime API (no query can produce them).

use bpfq_runtime::loader::{load_iter_program, IterProgramSpec, LoadError, LoadedProgram};

const LDX_DW: u8 = 0x79;
const ST_DW: u8 = 0x7a;
const JEQ_IMM: u8 = 0x15;
const JA: u8 = 0x05;
const MOV64_REG: u8 = 0xbf;
const MOV64_IMM: u8 = 0xb7;
const ADD64_IMM: u8 = 0x07;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
const BPF_SEQ_WRITE: i32 = 127;

/// Bytes one `bpf_seq_write` of the oversized program sends.
pub const CHUNK: i32 = 256;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    bytes[0] = code;
    bytes[1] = (src << 4) | (dst & 0x0f);
    bytes[2..4].copy_from_slice(&off.to_le_bytes());
    bytes[4..8].copy_from_slice(&imm.to_le_bytes());
    bytes
}

/// `bpf_seq_write(ctx->meta->seq, fp - CHUNK, len)`, with ctx in r6.
fn seq_write(len: i32) -> Vec<[u8; 8]> {
    vec![
        insn(LDX_DW, 1, 6, 0, 0), // r1 = ctx->meta
        insn(LDX_DW, 1, 1, 0, 0), // r1 = meta->seq
        insn(MOV64_REG, 2, 10, 0, 0),
        insn(ADD64_IMM, 2, 0, 0, -CHUNK),
        insn(MOV64_IMM, 3, 0, 0, len),
        insn(CALL, 0, 0, 0, BPF_SEQ_WRITE),
    ]
}

/// Zeroes the CHUNK bytes below the frame pointer (the verifier refuses uninitialised reads).
fn zero_chunk() -> Vec<[u8; 8]> {
    (1..=CHUNK / 8)
        .map(|k| insn(ST_DW, 10, 0, (-8 * k) as i16, 0))
        .collect()
}

fn exit_zero() -> Vec<[u8; 8]> {
    vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]
}

/// Exits without setting r0: the verifier refuses it ("R0 !read_ok").
pub fn refused_by_verifier() -> Vec<u8> {
    [insn(EXIT, 0, 0, 0, 0)].concat()
}

/// Writes `writes` * CHUNK bytes for every task: more than 32 KiB makes read(2) fail with E2BIG.
pub fn oversized_rows(writes: usize) -> Vec<u8> {
    let mut body = zero_chunk();
    for _ in 0..writes {
        body.extend(seq_write(CHUNK));
    }
    let mut program = vec![
        insn(MOV64_REG, 6, 1, 0, 0), // r6 = ctx
        insn(LDX_DW, 7, 1, 8, 0),    // r7 = ctx->task
        insn(JEQ_IMM, 7, 0, body.len() as i16, 0),
    ];
    program.extend(body);
    program.extend(exit_zero());
    program.concat()
}

/// Writes an 8-byte row per task and one stray byte on the final call (task == NULL): read as
/// 8-byte rows, the stream always ends one byte into a row.
pub fn torn_last_row() -> Vec<u8> {
    let one_byte = seq_write(1);
    let row = seq_write(8);
    let mut program = vec![insn(MOV64_REG, 6, 1, 0, 0), insn(LDX_DW, 7, 1, 8, 0)];
    program.extend(zero_chunk());
    // if task == NULL: skip the row write and its jump over the one-byte write.
    program.push(insn(JEQ_IMM, 7, 0, (row.len() + 1) as i16, 0));
    program.extend(row);
    program.push(insn(JA, 0, 0, one_byte.len() as i16, 0));
    program.extend(one_byte);
    program.extend(exit_zero());
    program.concat()
}

/// The running kernel's BTF id of FUNC `bpf_iter_task` (found with bpfq's BTF reader; the
/// kernel checks it at load time anyway).
pub fn iter_task_func_id() -> u32 {
    let btf = bpfq_kernel::Btf::from_file(std::path::Path::new("/sys/kernel/btf/vmlinux"))
        .expect("vmlinux BTF");
    let target = bpfq_kernel::catalogue::find_target(&btf, "task")
        .expect("BTF readable")
        .expect("iter/task");
    target.attach_func.expect("bpf_iter_task").0
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
