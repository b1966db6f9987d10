//! Compile-only tests of the variants chosen for kernels older than the newest, against the
//! BTF fixtures (their features derived from that BTF): the listings of a signed field, signed
//! division and a pointer-cast column on Linux 5.10 and 6.1 (shifts, the unsigned-division
//! sequence, probe reads), and no cpu v4 instruction or kfunc call in any program compiled for
//! them, while 6.18 keeps both.

use crate::common;

use bpfq_compiler::bpf::disasm::disassemble;
use bpfq_compiler::bpf::insn::{AluOp, Insn, Operand, Reg, Size, SwapWidth};
use bpfq_compiler::bpf::Program;
use bpfq_compiler::pipeline::{Compiled, Input, Options};
use common::{fixture, with_env};

fn compiled_on(version: &str, query: &str) -> Result<Compiled, String> {
    with_env(fixture(version), query, |file, env| {
        env.compile_single(Input::File(file), Options::default())
            .map_err(|d| format!("{}\n{}", d.code, d.render(env.sources())))
    })
}

fn helper_name(id: i32) -> Option<String> {
    bpfq_kernel::helpers::ALL
        .iter()
        .find(|(_, n)| i64::from(*n) == i64::from(id))
        .map(|(name, _)| format!("bpf_{name}"))
}

/// The IR and BPF listing of `query` compiled for Linux `version`.
fn listing_on(version: &str, query: &str) -> String {
    match compiled_on(version, query) {
        Ok(c) => format!(
            "== IR\n{}\n== BPF\n{}",
            c.ir,
            disassemble(&c.program, &helper_name)
        ),
        Err(diag) => diag,
    }
}

/// A signed field, signed division and remainder by a value and by a negative constant.
const SIGNED_DIVISION: &str =
    "from task select prio / (pid - 5) as q, prio % (pid - 5) as r, prio / -3 as qc, prio % -3 as rc";

/// One snapshot per line: `name: "version", "query";`.
macro_rules! golden_on {
    ($($(#[$doc:meta])* $name:ident: $version:literal, $query:expr;)*) => {$(
        $(#[$doc])*
        #[test]
        fn $name() {
            insta::with_settings!({ description => format!("Linux {}: {}", $version, $query), omit_expression => true }, {
                insta::assert_snapshot!(listing_on($version, $query));
            });
        }
    )*};
}

golden_on! {
    /// 5.10's `mm_rss_stat.count` is an array of the typedef `atomic_long_t`, which that
    /// verifier's BTF walk refuses ("not a struct"): the counters are probe-read.
    task_rss_on_5_10_is_probe_read: "5.10", "from task select rss";
    /// `pid` is an s32: a zero-extending load, then `<<= 32; s>>= 32`.
    task_pid_on_5_10_sign_extends_by_shifts: "5.10", "from task select pid";
    task_pid_on_6_1_sign_extends_by_shifts: "6.1", "from task select pid";
    /// |a| and |b| from sign masks, unsigned div/mod, the sign put back; a constant divisor's
    /// magnitude and sign are folded.
    signed_division_on_5_10_divides_magnitudes: "5.10", SIGNED_DIVISION;
    signed_division_on_6_1_divides_magnitudes: "6.1", SIGNED_DIVISION;
    /// The newest kernel keeps one sdiv/smod and sign-extending loads.
    signed_division_on_6_18_keeps_sdiv_and_smod: "6.18", SIGNED_DIVISION;
    /// `cast(sk_common as struct sock).sk_socket` then `.vfs_inode.i_ino` of the socket_alloc:
    /// two probe reads, no kfunc.
    tcp_inode_on_5_10_is_probe_read: "5.10", "from tcp select inode";
    tcp_inode_on_6_1_is_probe_read: "6.1", "from tcp select inode";
}

/// Queries over every target that covers signed loads, division and pointer casts (stdlib
/// columns included), for the scan below.
fn corpus() -> Vec<String> {
    let mut queries: Vec<String> = common::targets::TEXT_OUTPUT_TARGETS
        .iter()
        .chain(&["unix"])
        .map(|t| format!("from {t} select *"))
        .collect();
    queries.extend(
        [
            "from task select pid",
            SIGNED_DIVISION,
            "from task select cast(task.real_parent as struct task_struct).tgid",
            "from task select task.signal.oom_score_adj, cast(prio - 200 as s8)",
            "from tcp select tx_queue, rx_queue, max_backlog, inode where inode != 0",
            "from netlink select groups, inode",
            "from udp select inode",
        ]
        .map(String::from),
    );
    queries
}

fn v4_and_kfuncs(program: &Program) -> (usize, usize) {
    let v4 = program.insns.iter().filter(|i| i.needs_cpu_v4()).count();
    let kfuncs = program.insns.iter().filter(|i| i.is_kfunc_call()).count();
    (v4, kfuncs)
}

/// What the old kernels refuse never reaches their programs; the newest kernel's programs use
/// both (so the scan would see them).
#[test]
fn no_cpu_v4_instruction_or_kfunc_call_before_linux_6_2() {
    let mut compiled = 0;
    for version in ["5.10", "6.1"] {
        for query in corpus() {
            let program = match compiled_on(version, &query) {
                Ok(c) => c.program,
                // Targets this kernel does not have.
                Err(diag) if diag.starts_with("E0101") => continue,
                Err(diag) => panic!("Linux {version} `{query}`:\n{diag}"),
            };
            compiled += 1;
            assert_eq!(
                v4_and_kfuncs(&program),
                (0, 0),
                "Linux {version} `{query}`:\n{}",
                disassemble(&program, &helper_name)
            );
        }
    }
    assert!(compiled > 20, "{compiled} programs scanned");
    let (mut v4, mut kfuncs) = (0, 0);
    for query in corpus() {
        let program = compiled_on("6.18", &query).expect("6.18 compiles").program;
        let (a, b) = v4_and_kfuncs(&program);
        v4 += a;
        kfuncs += b;
    }
    assert!(
        v4 > 0 && kfuncs > 0,
        "6.18: {v4} v4 slots, {kfuncs} kfunc calls"
    );
}

/// `needs_cpu_v4` names exactly the cpu v4 forms: each constructor's slot, and `gotol`
/// (BPF_JMP32 | BPF_JA) built from its bytes.
#[test]
fn needs_cpu_v4_names_exactly_the_v4_forms() {
    let (r1, r2) = (Reg::R1, Reg::R2);
    let v4 = [
        Insn::load_signed(Size::W, r1, r2, 0),
        Insn::load_signed(Size::B, r1, r2, 0),
        Insn::alu64(AluOp::SDiv, r1, Operand::Reg(r2)),
        Insn::alu64(AluOp::SMod, r1, Operand::Imm(3)),
        Insn::alu32(AluOp::SDiv, r1, Operand::Imm(3)),
        Insn::mov64_sign_extend(r1, r2, Size::H),
        Insn::mov32_sign_extend(r1, r2, Size::B),
        Insn::bswap(r1, SwapWidth::Bits32),
        Insn::from_bytes([0x06, 0, 0, 0, 5, 0, 0, 0]),
    ];
    let older = [
        Insn::load(Size::W, r1, r2, 0),
        Insn::load_signed(Size::DW, r1, r2, 0),
        Insn::alu64(AluOp::Div, r1, Operand::Reg(r2)),
        Insn::alu64(AluOp::Mod, r1, Operand::Imm(3)),
        Insn::alu64(AluOp::Arsh, r1, Operand::Imm(32)),
        Insn::mov64(r1, Operand::Reg(r2)),
        Insn::mov64_sign_extend(r1, r2, Size::DW),
        Insn::to_be(r1, SwapWidth::Bits16),
        Insn::to_le(r1, SwapWidth::Bits64),
        Insn::goto(3),
        Insn::jump32(bpfq_compiler::bpf::JmpOp::Jeq, r1, Operand::Imm(0), 2),
        Insn::call_helper(113),
    ];
    for insn in v4 {
        assert!(insn.needs_cpu_v4(), "{insn:?}");
    }
    for insn in older {
        assert!(!insn.needs_cpu_v4(), "{insn:?}");
    }
    assert!(Insn::call_kfunc(7).is_kfunc_call());
    assert!(!Insn::call_helper(7).is_kfunc_call());
}

/// Without `bpf_ringbuf_output` (Linux < 5.8) the targets that prefer the ring (unix,
/// ipv6_route) write their rows with `bpf_seq_write`; with it they use the ring.
#[test]
fn without_a_ring_buffer_rows_take_the_seq_buffer() {
    use bpfq_kernel::catalogue::RowTransport;
    let transport_of = |ringbuf: bool| {
        with_env(fixture("6.18"), "from unix select inode", |file, env| {
            let mut features = env.features().clone();
            features.ringbuf = ringbuf;
            let env = env.with_features(&features);
            let compiled = env
                .compile_single(Input::File(file), Options::default())
                .expect("compiles");
            let calls: Vec<i32> = compiled
                .program
                .insns
                .iter()
                .filter(|insn| insn.code == 0x85 && insn.src == 0)
                .map(|insn| insn.imm)
                .collect();
            (compiled.plan.target.transport, calls)
        })
    };
    let (with_ring, ring_calls) = transport_of(true);
    assert_eq!(with_ring, RowTransport::RingBuf);
    assert!(
        ring_calls.contains(&(bpfq_kernel::helpers::RINGBUF_OUTPUT as i32)),
        "{ring_calls:?}"
    );
    let (without, seq_calls) = transport_of(false);
    assert_eq!(without, RowTransport::Seq);
    assert!(
        !seq_calls.contains(&(bpfq_kernel::helpers::RINGBUF_OUTPUT as i32)),
        "{seq_calls:?}"
    );
    assert!(
        seq_calls.contains(&(bpfq_kernel::helpers::SEQ_WRITE as i32)),
        "{seq_calls:?}"
    );
}

/// Before Linux 6.1 a task iterator's link takes no process: `task(pid = N)`, `task(tid = N)`
/// and a pushed-down `where pid == N` are conditions of the program instead; from 6.1 on they
/// are link parameters.
#[test]
fn task_parameters_are_filters_before_linux_6_1() {
    for (query, param) in [
        ("from task(pid = 4242) select comm", "pid = 4242"),
        ("from task(tid = 4242) select comm", "tid = 4242"),
        ("from task select comm where pid == 4242", "pid = 4242"),
        ("from task_file(pid = 4242) select fd", "pid = 4242"),
    ] {
        let old = compiled_on("5.10", query).expect("compiles for 5.10");
        assert!(
            old.plan.iter_params.is_none(),
            "{query}: {:?}",
            old.plan.iter_params
        );
        let constant = old
            .program
            .insns
            .iter()
            .any(|insn| insn.imm == 4242 && insn.code & 0x07 == 0x05);
        assert!(
            constant,
            "{query}: no compare with 4242 in the 5.10 program"
        );
        let new = compiled_on("6.18", query).expect("compiles for 6.18");
        let described = new.plan.iter_params.as_ref().map(|p| p.describe());
        assert!(
            described.as_deref().is_some_and(|d| d.contains(param)),
            "{query}: {described:?}"
        );
    }
}
