//! A join of many rows runs in bounded memory: the last join's rows stream out as they are
//! found (a self-join of a 3,000-thread process: 9,000,000 rows, under a 1 GiB address-space
//! cap), and what a join must hold is capped by `--max-join-rows` with E0127.

use crate::common;

use common::bounded::bounded_command;
use common::*;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;

const THREADS: usize = 3000;

/// A python3 process with `THREADS` threads besides its main one; it lives until dropped.
fn many_threads() -> KillOnDrop {
    let script = format!(
        "import sys, threading\n\
         threading.stack_size(256 * 1024)\n\
         for _ in range({THREADS}):\n    threading.Thread(target=sys.stdin.read, daemon=True).start()\n\
         print('ready', flush=True)\n\
         sys.stdin.read()\n"
    );
    let mut child = spawn_python(&[], &["-c", &script]);
    assert_eq!(child.first_line(), "ready");
    child
}

fn self_join(pid: u32, extra: &str) -> String {
    format!(
        "from task as a join task as b on a.tgid == b.tgid select a.tid, b.tid \
         where a.pid == {pid} and b.pid == {pid} {extra}"
    )
}

#[test]
fn a_self_join_of_thousands_of_threads_streams_in_bounded_memory() {
    let _k = shared_kernel();
    let child = many_threads();
    let pid = child.0.id();
    let query = self_join(pid, "");
    let mut run = bounded_command(
        &["-o", "csv", "--no-header", &query],
        Path::new("/"),
        &[],
        &[],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("bpfq runs");
    // Count lines as they come: 9,000,000 rows are not kept here either.
    let (mut lines, mut buf) = (0usize, vec![0u8; 1 << 16]);
    let mut out = run.stdout.take().unwrap();
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    let status = run.wait().unwrap();
    let mut err = String::new();
    run.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{status}: {err}");
    let tasks = THREADS + 1;
    assert_eq!(lines, tasks * tasks);
}

#[test]
fn a_join_that_must_hold_more_than_the_cap_is_refused_with_e0127() {
    let _k = shared_kernel();
    let child = many_threads();
    let pid = child.0.id();
    // Sorted, every result row is held: 9,000,000 of them is over a cap of 100,000.
    let out = bounded_command(
        &[
            "--max-join-rows",
            "100000",
            &self_join(pid, "order by a.tid"),
        ],
        Path::new("/"),
        &[],
        &[],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.lines().next(),
        Some("error[E0127]: the join holds more than 100000 row combinations in memory (--max-join-rows 100000)")
    );
    assert!(out.stdout.is_empty());
    // Under the cap it runs: the rows of one thread of the first source.
    let first = bpfq_ok(&[
        "-o",
        "csv",
        "--no-header",
        "--max-join-rows",
        "100000",
        &self_join(pid, &format!("and a.tid == {pid} order by b.tid")),
    ]);
    assert_eq!(first.lines().count(), THREADS + 1);
}
