//! Kernel tests of issue #5's streaming rule for the default table on a pipe: rows reach the
//! reader while the iterator is still being read, and memory stays bounded however many rows
//! the dump has. The oracles are the kernel's own views of the running bpfq: the read position
//! of its BPF iterator fd (/proc/PID/fdinfo) and its peak RSS (VmHWM in /proc/PID/status).

use crate::common;

use common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// iter/ksym: ~120k rows of 584 bytes (about 70 MB read from the iterator), far more than a
/// pipe (64 KiB) and bpfq's output buffer (64 KiB) hold.
const BIG_DUMP: &str = "from ksym select name, type, module, address";

/// Spawns bpfq on `BIG_DUMP` with the default format (a table) and stdout a pipe.
fn spawn_big_dump() -> KillOnDrop {
    let child = Command::new(bpfq_path())
        .arg(BIG_DUMP)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bpfq runs");
    KillOnDrop(child)
}

/// The byte position of the BPF iterator fd `pid` holds (how much of the dump it has read),
/// if it holds one.
fn iterator_position(pid: u32) -> Option<u64> {
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let entry = entry.ok()?;
        let target = std::fs::read_link(entry.path()).ok()?;
        if target.to_string_lossy() != "anon_inode:bpf_iter" {
            continue;
        }
        let fd = entry.file_name();
        let info =
            std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.to_string_lossy())).ok()?;
        return info
            .lines()
            .find_map(|line| line.strip_prefix("pos:"))
            .and_then(|pos| pos.trim().parse().ok());
    }
    None
}

/// Peak resident set size of `pid` in KiB, while it is alive.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

#[test]
fn table_rows_reach_a_pipe_while_the_iterator_is_still_being_read() {
    let _k = shared_kernel();
    let mut child = spawn_big_dump();
    let pid = child.pid();
    // Nobody reads the pipe yet: bpfq runs until a write blocks on it. Once the iterator's
    // position stops moving, it is blocked (a buffering table reads the whole dump first).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    let mut steady_polls = 0;
    let blocked_at = loop {
        assert!(Instant::now() < deadline, "bpfq never settled: {last:?}");
        std::thread::sleep(Duration::from_millis(100));
        let now = iterator_position(pid);
        if now.is_some() && now == last {
            steady_polls += 1;
        } else {
            steady_polls = 0;
        }
        last = now;
        if steady_polls == 5 {
            break now.expect("an iterator position");
        }
    };
    let mut out = BufReader::with_capacity(64 * 1024, child.0.stdout.take().expect("stdout"));
    let mut header = String::new();
    out.read_line(&mut header).expect("read the header");
    assert!(
        header.starts_with("name") && header.contains("address"),
        "{header:?}"
    );
    // Read the rest, noting how far the iterator got while bpfq was still running.
    let mut furthest = blocked_at;
    let mut lines = 1usize;
    loop {
        let chunk = out.fill_buf().expect("read the table");
        if chunk.is_empty() {
            break;
        }
        lines += chunk.iter().filter(|&&b| b == b'\n').count();
        let used = chunk.len();
        out.consume(used);
        if let Some(pos) = iterator_position(pid) {
            furthest = furthest.max(pos);
        }
    }
    let status = child.0.wait().expect("wait");
    assert!(status.success(), "{status}");
    assert!(lines > 10_000, "only {lines} lines: not a big dump");
    assert!(
        blocked_at * 4 < furthest,
        "the first lines waited for the iterator: it was at byte {blocked_at} of at least \
         {furthest} when the output pipe filled"
    );
}

#[test]
fn table_memory_stays_bounded_over_a_large_dump() {
    let _k = shared_kernel();
    let mut child = spawn_big_dump();
    let pid = child.pid();
    let mut out = child.0.stdout.take().expect("stdout");
    let mut buf = vec![0u8; 64 * 1024];
    let (mut peak_kib, mut bytes) = (0u64, 0usize);
    loop {
        // VmHWM only grows, so its last reading before exit is the run's peak so far; a table
        // that kept every row would peak before it printed its first line.
        if let Some(kib) = peak_rss_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        let count = out.read(&mut buf).expect("read the table");
        if count == 0 {
            break;
        }
        bytes += count;
    }
    let status = child.0.wait().expect("wait");
    assert!(status.success(), "{status}");
    assert!(bytes > 1_000_000, "only {bytes} bytes: not a big dump");
    // Every row kept (as this table once did) peaked at 33 MB for this dump; streaming stays
    // near the process's fixed size (binary, BTF pages touched, 64 KiB buffers).
    assert!(
        peak_kib < 16 * 1024,
        "peak RSS {peak_kib} KiB for a {bytes}-byte table"
    );
}
