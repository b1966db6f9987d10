//! Kernel tests: no BPF program, link or map outlives a bpfq run — after success, a compile
//! error, an output pipe closed early (`| head -1`, also through a real shell pipeline), SIGINT
//! and SIGTERM, for the seq transport (task) and the ring buffer transport (unix); and none
//! outlives a verifier refusal, an E2BIG read or a torn last row met through the runtime API
//! (hand-made programs: no query produces them) — listed with bpftool before and after.

use crate::common;

use bpfq_runtime::{LoadError, ReadError, RowSource};
use common::*;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process with thousands of threads, so a task dump is larger than a pipe's buffer and bpfq
/// blocks writing it while its program and link are alive.
struct ManyThreads {
    _child: KillOnDrop,
}

impl ManyThreads {
    fn spawn(count: usize) -> ManyThreads {
        let script = format!(
            "import threading,time,sys\nfor _ in range({count}): threading.Thread(target=time.sleep,args=(120,),daemon=True).start()\nprint('ready',flush=True)\ntime.sleep(120)"
        );
        let mut child = spawn_python(&[], &["-c", &script]);
        assert_eq!(child.first_line(), "ready");
        ManyThreads { _child: child }
    }
}

/// Starts a csv dump whose stdout nobody reads, and waits until it is blocked with its program
/// loaded (seen by bpftool).
fn blocked_dump(baseline: (usize, usize, usize)) -> Child {
    let child = Command::new(bpfq_path())
        .args(["from task select pid, tid, tgid, comm", "-o", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while bpf_objects() != (baseline.0 + 1, baseline.1 + 1, baseline.2) {
        assert!(
            Instant::now() < deadline,
            "bpfq never showed its program and link: {:?}",
            bpf_objects()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

#[test]
fn successful_and_failing_runs_leave_nothing() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    let out = bpfq(&["from task select pid, comm", "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_objects_return_to(baseline, "after a successful run");
    let out = bpfq(&["from task select nosuchfield"]);
    assert_eq!(out.status.code(), Some(2));
    assert_objects_return_to(baseline, "after a compile error");
}

#[test]
fn closed_pipe_tears_down() {
    let _k = exclusive_kernel();
    let _threads = ManyThreads::spawn(4000);
    let baseline = bpf_objects();
    let mut child = blocked_dump(baseline);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    reader.read_line(&mut header).unwrap();
    assert_eq!(header.trim(), "pid,tid,tgid,comm");
    drop(reader); // like `| head -1`
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "a closed pipe is a normal end: {status:?}"
    );
    assert_objects_return_to(baseline, "after the reader closed the pipe");
}

#[test]
fn sigint_tears_down() {
    let _k = exclusive_kernel();
    let _threads = ManyThreads::spawn(4000);
    let baseline = bpf_objects();
    let mut child = blocked_dump(baseline);
    send_signal(child.id(), "INT");
    let status = child.wait().unwrap();
    assert!(!status.success(), "SIGINT ends the run: {status:?}");
    assert_objects_return_to(baseline, "after SIGINT");
}

/// Starts a unix dump whose stdout nobody reads (thousands of rows: more than a pipe holds) and
/// waits until it is blocked writing rows: its walk is over, and its program, link and ring
/// buffer map are alive (kept for another walk).
fn blocked_unix_dump(baseline: (usize, usize, usize)) -> Child {
    let child = Command::new(bpfq_path())
        .args(["from unix select inode, type, state, path", "-o", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while bpf_objects() != (baseline.0 + 1, baseline.1 + 1, baseline.2 + 1) {
        assert!(
            Instant::now() < deadline,
            "bpfq never showed its program, link and ring buffer: {:?}",
            bpf_objects()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

#[test]
fn ring_transport_runs_leave_nothing() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    let out = bpfq(&["from unix select inode", "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_objects_return_to(baseline, "after a unix run");
    // A first ring far too small: several walks, each larger ring with its own program.
    let out = bpfq(&["from unix select inode", "--ring-size", "4096", "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_objects_return_to(baseline, "after a unix run that grew its ring");
    // Fails after the ring, program and link exist: the namespace cannot be entered.
    let out = bpfq(&[r#"from unix(netns = "/run/netns/bpfq-no-such-ns") select inode"#]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_objects_return_to(baseline, "after a unix run that failed");
}

#[test]
fn ring_transport_closed_pipe_tears_down() {
    let _k = exclusive_kernel();
    let _pairs = UnixPairs::spawn(3000);
    let baseline = bpf_objects();
    let mut child = blocked_unix_dump(baseline);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    reader.read_line(&mut header).unwrap();
    assert_eq!(header.trim(), "inode,type,state,path");
    drop(reader); // like `| head -1`
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "a closed pipe is a normal end: {status:?}"
    );
    assert_objects_return_to(baseline, "after the reader of a unix dump closed the pipe");
}

#[test]
fn ring_transport_sigint_tears_down() {
    let _k = exclusive_kernel();
    let _pairs = UnixPairs::spawn(3000);
    let baseline = bpf_objects();
    let mut child = blocked_unix_dump(baseline);
    send_signal(child.id(), "INT");
    let status = child.wait().unwrap();
    assert!(!status.success(), "SIGINT ends the run: {status:?}");
    assert_objects_return_to(baseline, "after SIGINT during a unix dump");
}

/// kill(1) with signal `name` to `pid` (the project keeps `unsafe` in the runtime's syscall
/// layer only, so tests signal through the kill command).
fn send_signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

#[test]
fn sigterm_tears_down() {
    let _k = exclusive_kernel();
    let _threads = ManyThreads::spawn(4000);
    let baseline = bpf_objects();
    let mut child = blocked_dump(baseline);
    send_signal(child.id(), "TERM");
    let status = child.wait().unwrap();
    assert!(!status.success(), "SIGTERM ends the run: {status:?}");
    assert_objects_return_to(baseline, "after SIGTERM");
}

#[test]
fn ring_transport_sigterm_tears_down() {
    let _k = exclusive_kernel();
    let _pairs = UnixPairs::spawn(3000);
    let baseline = bpf_objects();
    let mut child = blocked_unix_dump(baseline);
    send_signal(child.id(), "TERM");
    let status = child.wait().unwrap();
    assert!(!status.success(), "SIGTERM ends the run: {status:?}");
    assert_objects_return_to(baseline, "after SIGTERM during a unix dump");
}

/// `bpfq ... | head -1` in a real shell: head exits after one line, bpfq meets EPIPE (or
/// SIGPIPE) while its program is loaded, ends quietly with status 0 and frees everything.
#[test]
fn shell_pipeline_into_head_tears_down() {
    let _k = exclusive_kernel();
    let _threads = ManyThreads::spawn(4000);
    let baseline = bpf_objects();
    for query in [
        "from task select pid, tid, tgid, comm",
        "from unix select inode, type, state, path",
    ] {
        let script = format!(
            "set -o pipefail; '{}' '{query}' -o csv | head -1",
            bpfq_path().display()
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        assert!(
            out.status.success(),
            "{query}: the pipeline fails: {:?}\n{}",
            out.status,
            stderr(&out)
        );
        assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
        assert!(
            stderr(&out).is_empty(),
            "a closed pipe is not an error: {}",
            stderr(&out)
        );
        assert_objects_return_to(baseline, "after `| head -1`");
    }
}

#[test]
fn verifier_refusal_leaves_nothing() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    match raw_programs::load("bpfq_leak_vrf", &raw_programs::refused_by_verifier()) {
        Err(LoadError::Verifier { log, .. }) => assert!(log.contains("R0"), "{log}"),
        Err(other) => panic!("expected a verifier refusal, got {other}"),
        Ok(_) => panic!("the verifier accepted a program that never sets r0"),
    }
    assert_objects_return_to(baseline, "after a verifier refusal");
}

#[test]
fn object_over_32_kib_is_e2big_and_leaves_nothing() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    {
        // 140 writes of 256 bytes: 35,840 bytes for one task, over the 32 KiB seq buffer.
        let program = raw_programs::load("bpfq_leak_big", &raw_programs::oversized_rows(140))
            .expect("the verifier accepts many small writes");
        let link = program.attach(None).expect("attach");
        let mut reader = link.open().expect("iterator");
        let result = reader.read_rows(raw_programs::CHUNK as usize, |_| ControlFlow::Continue(()));
        assert!(
            matches!(result, Err(ReadError::ObjectTooLarge)),
            "read(2) of an object over 32 KiB: {result:?}"
        );
        assert_eq!(bpf_objects(), (baseline.0 + 1, baseline.1 + 1, baseline.2));
    }
    assert_objects_return_to(baseline, "after E2BIG");
}

#[test]
fn torn_last_row_is_an_error_and_leaves_nothing() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    {
        let program =
            raw_programs::load("bpfq_leak_torn", &raw_programs::torn_last_row()).expect("load");
        let link = program.attach(None).expect("attach");
        let mut reader = link.open().expect("iterator");
        let mut rows = 0;
        let result = reader.read_rows(8, |_| {
            rows += 1;
            ControlFlow::Continue(())
        });
        assert!(
            matches!(
                result,
                Err(ReadError::TornRow {
                    trailing: 1,
                    row_size: 8
                })
            ),
            "{result:?}"
        );
        assert!(rows > 0, "every whole row came before the error");
    }
    assert_objects_return_to(baseline, "after a reader error");
}
