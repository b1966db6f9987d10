//! Kernel tests of the loader and reader: a hand-assembled `iter/task` program is loaded,
//! attached and read on the running kernel, and checked against /proc and processes this test
//! spawned. The BTF facts (offsets, FUNC id) come from bpftool, independently of bpfq.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bpfq_runtime::loader::{load_iter_program, IterProgramSpec, LoadError};
use bpfq_runtime::sys;
use bpfq_runtime::RowSource;

/// Serialises the tests that compare the kernel's object lists.
static OBJECT_LISTS: Mutex<()> = Mutex::new(());

struct BtfFacts {
    iter_task_func_id: u32,
    task_pid_offset: i16,
    task_tgid_offset: i16,
}

/// Reads the facts from `bpftool btf dump ... format raw` (an oracle independent of bpfq).
fn btf_facts() -> &'static BtfFacts {
    static FACTS: OnceLock<BtfFacts> = OnceLock::new();
    FACTS.get_or_init(|| {
        let output = Command::new("bpftool")
            .args([
                "btf",
                "dump",
                "file",
                "/sys/kernel/btf/vmlinux",
                "format",
                "raw",
            ])
            .output()
            .expect("bpftool must be installed for the kernel tests");
        assert!(output.status.success(), "bpftool failed");
        let text = String::from_utf8_lossy(&output.stdout);
        let mut func_id = None;
        let mut in_task_struct = false;
        let (mut pid, mut tgid) = (None, None);
        for line in text.lines() {
            if line.starts_with('[') {
                in_task_struct = line.contains(" STRUCT 'task_struct' ");
                if line.contains(" FUNC 'bpf_iter_task' ") {
                    let id = line[1..line.find(']').expect("id")]
                        .parse()
                        .expect("id number");
                    func_id = Some(id);
                }
            } else if in_task_struct {
                let bits = |member: &str| -> Option<i16> {
                    let rest = line.trim().strip_prefix(&format!("'{member}' "))?;
                    let bits: u32 = rest.split("bits_offset=").nth(1)?.parse().ok()?;
                    i16::try_from(bits / 8).ok()
                };
                pid = pid.or(bits("pid"));
                tgid = tgid.or(bits("tgid"));
            }
        }
        BtfFacts {
            iter_task_func_id: func_id.expect("FUNC bpf_iter_task"),
            task_pid_offset: pid.expect("task_struct.pid"),
            task_tgid_offset: tgid.expect("task_struct.tgid"),
        }
    })
}

/// One `struct bpf_insn`: opcode, dst/src registers (low/high nibble), offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    bytes[0] = code;
    bytes[1] = (src << 4) | (dst & 0x0f);
    bytes[2..4].copy_from_slice(&off.to_le_bytes());
    bytes[4..8].copy_from_slice(&imm.to_le_bytes());
    bytes
}

const LDX_DW: u8 = 0x79;
const LDX_W: u8 = 0x61;
const STX_W: u8 = 0x63;
const ST_DW: u8 = 0x7a;
const JEQ_IMM: u8 = 0x15;
const MOV64_REG: u8 = 0xbf;
const MOV64_IMM: u8 = 0xb7;
const ADD64_IMM: u8 = 0x07;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
const BPF_SEQ_WRITE: i32 = 127;

/// Writes one 8-byte row {pid: u32, tgid: u32} per task with bpf_seq_write.
fn task_pid_program(null_check: bool) -> Vec<u8> {
    let facts = btf_facts();
    let mut program = vec![
        insn(LDX_DW, 6, 1, 0, 0), // r6 = ctx->meta
        insn(LDX_DW, 7, 1, 8, 0), // r7 = ctx->task
    ];
    if null_check {
        program.push(insn(JEQ_IMM, 7, 0, 10, 0)); // if task == NULL goto out
    }
    program.extend([
        insn(ST_DW, 10, 0, -8, 0),                    // row = 0
        insn(LDX_W, 2, 7, facts.task_pid_offset, 0),  // r2 = task->pid
        insn(STX_W, 10, 2, -8, 0),                    // row.pid = r2
        insn(LDX_W, 2, 7, facts.task_tgid_offset, 0), // r2 = task->tgid
        insn(STX_W, 10, 2, -4, 0),                    // row.tgid = r2
        insn(LDX_DW, 1, 6, 0, 0),                     // r1 = meta->seq
        insn(MOV64_REG, 2, 10, 0, 0),                 // r2 = fp
        insn(ADD64_IMM, 2, 0, 0, -8),                 // r2 = &row
        insn(MOV64_IMM, 3, 0, 0, 8),                  // r3 = sizeof row
        insn(CALL, 0, 0, 0, BPF_SEQ_WRITE),           // bpf_seq_write(seq, &row, 8)
        insn(MOV64_IMM, 0, 0, 0, 0),                  // out: r0 = 0
        insn(EXIT, 0, 0, 0, 0),
    ]);
    program.concat()
}

fn spec<'a>(name: &'a str, insns: &'a [u8]) -> IterProgramSpec<'a> {
    IterProgramSpec {
        name,
        insns,
        license: "GPL",
        attach_btf_id: btf_facts().iter_task_func_id,
    }
}

/// A child process killed and reaped however the test ends.
struct SpawnedChild(Child);

impl Drop for SpawnedChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_sleeper() -> SpawnedChild {
    SpawnedChild(
        Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep"),
    )
}

fn decode_pid_rows(rows: &[u8]) -> Vec<(u32, u32)> {
    rows.chunks_exact(8)
        .map(|row| {
            let pid = u32::from_le_bytes([row[0], row[1], row[2], row[3]]);
            let tgid = u32::from_le_bytes([row[4], row[5], row[6], row[7]]);
            (pid, tgid)
        })
        .collect()
}

/// The id of the calling thread, from /proc/thread-self (a link to `PID/task/TID`).
fn current_thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("read /proc/thread-self");
    let tid = link
        .file_name()
        .and_then(|name| name.to_str()?.parse().ok());
    tid.expect("thread id")
}

/// Loads, attaches, opens and reads the task program; returns all rows.
fn run_task_program(name: &str, iter_info: Option<&[u8]>) -> Vec<(u32, u32)> {
    let insns = task_pid_program(true);
    let program = load_iter_program(&spec(name, &insns), false).expect("load");
    let link = program.attach(iter_info).expect("attach");
    let mut reader = link.open().expect("open");
    let mut bytes = Vec::new();
    reader
        .read_rows(8, |row| {
            bytes.extend_from_slice(row);
            ControlFlow::Continue(())
        })
        .expect("read rows");
    decode_pid_rows(&bytes)
}

#[test]
fn task_iterator_shows_a_spawned_child_and_every_thread() {
    let child = spawn_sleeper();
    let child_pid = child.0.id();
    // Threads this test owns, parked until the walk is over: each must be a row of this
    // process (only objects the test made are asserted: some machines hide pid 1's threads).
    let (release, parked) = std::sync::mpsc::channel::<()>();
    let parked = std::sync::Arc::new(std::sync::Mutex::new(parked));
    let (started, tids) = std::sync::mpsc::channel();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let parked = std::sync::Arc::clone(&parked);
            let started = started.clone();
            std::thread::spawn(move || {
                let _ = started.send(current_thread_id());
                let _ = parked.lock().map(|rx| rx.recv());
            })
        })
        .collect();
    let own_pid = std::process::id();
    let threads: Vec<u32> = tids.iter().take(workers.len()).collect();
    let rows = run_task_program("bpfq_t_tasks", None);
    drop(release);
    for worker in workers {
        worker.join().expect("worker");
    }
    assert!(
        rows.contains(&(child_pid, child_pid)),
        "child {child_pid} missing from {} rows",
        rows.len()
    );
    for tid in threads {
        assert!(
            rows.contains(&(tid, own_pid)),
            "thread {tid} of {own_pid} missing from {} rows",
            rows.len()
        );
    }
}

#[test]
fn iter_info_restricts_the_walk_to_one_process() {
    let child = spawn_sleeper();
    let child_pid = child.0.id();
    // union bpf_iter_link_info { struct { u32 tid; u32 pid; u32 pid_fd; } task; ... } (16 bytes)
    let mut iter_info = [0u8; 16];
    iter_info[4..8].copy_from_slice(&child_pid.to_le_bytes());
    let rows = run_task_program("bpfq_t_onepid", Some(&iter_info));
    assert_eq!(rows, vec![(child_pid, child_pid)]);
}

#[test]
fn rows_stream_through_decoder_and_csv_sink() {
    use bpfq_compiler::layout::{ColumnKind, RowLayout};
    use bpfq_runtime::format::{new_sink, FormatOptions, OutputFormat};

    let child = spawn_sleeper();
    let child_pid = child.0.id();
    let layout = RowLayout::pack([
        (
            "pid".to_string(),
            ColumnKind::Int {
                bytes: 4,
                signed: true,
            },
            false,
        ),
        (
            "tgid".to_string(),
            ColumnKind::Int {
                bytes: 4,
                signed: true,
            },
            false,
        ),
    ]);
    assert_eq!(layout.size, 8, "the program writes 8-byte rows");
    let insns = task_pid_program(true);
    let program = load_iter_program(&spec("bpfq_t_stream", &insns), false).expect("load");
    let link = program.attach(None).expect("attach");
    let mut reader = link.open().expect("open");
    let mut out = Vec::new();
    let summary = {
        let mut sink = new_sink(OutputFormat::Csv, &mut out, FormatOptions::default());
        let everything = bpfq_compiler::plan::UserPart {
            grouping: None,
            order_by: vec![],
            limit: None,
            visible: vec![0, 1],
            drop_repeated_last: false,
            projection: None,
        };
        bpfq_runtime::stream_rows(&mut reader, &layout, &everything, sink.as_mut()).expect("stream")
    };
    let text = String::from_utf8(out).expect("utf-8");
    assert!(!summary.output_closed);
    assert_eq!(
        text.lines().count(),
        summary.rows + 1,
        "header + one line per row"
    );
    assert!(text.starts_with("pid,tgid\n"));
    assert!(
        text.lines()
            .any(|line| line == format!("{child_pid},{child_pid}")),
        "{text}"
    );
}

/// Ids of programs named `name` currently in the kernel.
fn programs_named(name: &str) -> Vec<u32> {
    sys::prog_ids()
        .expect("prog ids")
        .into_iter()
        .filter(|&id| {
            sys::prog_fd_by_id(id)
                .and_then(|fd| sys::prog_info(std::os::fd::AsFd::as_fd(&fd)))
                .map(|info| info.name == name)
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn verifier_rejection_reports_the_reason_and_leaves_nothing() {
    let _lists = OBJECT_LISTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let insns = task_pid_program(false);
    let error =
        load_iter_program(&spec("bpfq_t_reject", &insns), false).expect_err("must be rejected");
    let LoadError::Verifier { errno, log } = &error else {
        panic!("expected a verifier error, got {error}")
    };
    assert_eq!(*errno, libc::EACCES, "{log}");
    assert!(
        log.contains("invalid mem access"),
        "log does not say why:\n{log}"
    );
    // The message says why in bpfq's words and leaves the log out (shown only on --verbose).
    let message = error.to_string();
    assert!(message.contains("verifier rejected"), "{message}");
    assert!(
        message.contains("a pointer that may be NULL (R7) is dereferenced before it is checked"),
        "{message}"
    );
    assert!(!message.contains("invalid mem access"), "{message}");
    println!("{error}");
    assert!(programs_named("bpfq_t_reject").is_empty());
}

#[test]
fn verbose_load_keeps_the_log_of_an_accepted_program() {
    let insns = task_pid_program(true);
    let program = load_iter_program(&spec("bpfq_t_verbose", &insns), true).expect("load");
    let log = program.verifier_log().expect("log captured");
    assert!(log.contains("processed"), "{log}");
}

/// Waits (program release is RCU-deferred) until none of `ids` is in `list()`.
fn wait_until_gone(what: &str, ids: &[u32], list: fn() -> std::io::Result<Vec<u32>>) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let present: HashSet<u32> = list().expect("list ids").into_iter().collect();
        let left: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|id| present.contains(id))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} {left:?} still loaded after 2 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the program, optionally stopping after the first row; returns (prog id, link id)
/// observed while loaded.
fn run_and_record_ids(stop_after_first_row: bool) -> (u32, u32) {
    let insns = task_pid_program(true);
    let program = load_iter_program(&spec("bpfq_t_leak", &insns), false).expect("load");
    let link = program.attach(None).expect("attach");
    let prog_id = program.info().expect("prog info").id;
    let link_info = link.info().expect("link info");
    assert_eq!(link_info.prog_id, prog_id);
    assert!(sys::prog_ids().expect("prog ids").contains(&prog_id));
    assert!(sys::link_ids().expect("link ids").contains(&link_info.id));
    let mut reader = link.open().expect("open");
    let mut rows = 0;
    reader
        .read_rows(8, |_| {
            rows += 1;
            if stop_after_first_row {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("read");
    assert!(rows >= 1);
    if stop_after_first_row {
        assert_eq!(rows, 1);
    }
    (prog_id, link_info.id)
}

#[test]
fn no_program_or_link_outlives_a_run() {
    let _lists = OBJECT_LISTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for stop_early in [false, true] {
        let (prog_id, link_id) = run_and_record_ids(stop_early);
        wait_until_gone("program", &[prog_id], sys::prog_ids);
        wait_until_gone("link", &[link_id], sys::link_ids);
    }
    assert!(programs_named("bpfq_t_leak").is_empty());
}

/// Median wall time of load + attach + iterator create + read all + close, printed for the report
/// (`cargo test --release -p bpfq-runtime --test runtime -- --nocapture kernel_iter::measure`).
#[test]
fn measure_round_trip() {
    let insns = task_pid_program(true);
    let mut times = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let program = load_iter_program(&spec("bpfq_t_time", &insns), false).expect("load");
        let link = program.attach(None).expect("attach");
        let mut reader = link.open().expect("open");
        let mut rows = 0usize;
        reader
            .read_rows(8, |_| {
                rows += 1;
                ControlFlow::Continue(())
            })
            .expect("read");
        drop(reader);
        drop(link);
        drop(program);
        times.push(start.elapsed());
        assert!(rows > 0);
    }
    times.sort();
    println!(
        "load+attach+iter_create+read+close, median of 50: {:?} (min {:?}, max {:?})",
        times[25], times[0], times[49]
    );
}

/// Before 5.11 the kernel charges maps to RLIMIT_MEMLOCK (64 KiB at boot, less than a ring):
/// the first map creation raises the limit, as libbpf does, so a low limit does not refuse it.
/// The check runs in a child process started with a 64 KiB soft limit (`prlimit`), alone in it.
#[test]
fn creating_a_map_lifts_a_low_memlock_limit() {
    let exe = std::env::current_exe().expect("test binary");
    let (_, module) = module_path!()
        .split_once("::")
        .expect("a module of the test binary");
    let child_test_name = format!("{module}::memlock_child_creates_a_ring");
    let hard = std::fs::read_to_string("/proc/self/limits")
        .expect("limits")
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_string))
        .expect("hard memlock limit");
    let out = std::process::Command::new("prlimit")
        .arg(format!("--memlock=65536:{hard}"))
        .arg(exe)
        // The test's name as the harness lists it: its module path without the crate's name.
        .args(["--exact", &child_test_name, "--nocapture"])
        .env("BPFQ_TEST_MEMLOCK_CHILD", "1")
        .output()
        .expect("run prlimit");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("memlock before: Some(65536), after: "),
        "{text}"
    );
    let after = text
        .split("after: ")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .next();
    let expected = match hard.as_str() {
        "unlimited" => "None".to_string(),
        bytes => format!("Some({bytes})"),
    };
    // Raised to infinity where the process may (CAP_SYS_RESOURCE), else to the hard limit.
    assert!(
        after == Some("None") || after == Some(expected.as_str()),
        "{text}"
    );
}

/// The child of `creating_a_map_lifts_a_low_memlock_limit` (does nothing when run directly).
#[test]
fn memlock_child_creates_a_ring() {
    if std::env::var_os("BPFQ_TEST_MEMLOCK_CHILD").is_none() {
        return;
    }
    let before = bpfq_runtime::sys::memlock_limit().expect("getrlimit");
    let ring = bpfq_runtime::sys::ringbuf_create("bpfq_t_memlock", 1 << 20).expect("1 MiB ring");
    drop(ring);
    let after = bpfq_runtime::sys::memlock_limit().expect("getrlimit");
    println!("memlock before: {before:?}, after: {after:?}");
}
