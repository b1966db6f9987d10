//! The terminal-facing options of `bpfq`, run as the real binary against the running kernel:
//! table width, `--timings`, `--watch`/`--count`. Each result is checked against /proc for
//! processes the test spawned itself.

mod common;

use common::*;
use std::process::Command;

#[test]
fn piped_tables_are_never_cut() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("longcomm12"));
    let query = format!(
        "from task select pid, comm, comm as again where pid == {}",
        child.pid()
    );
    let out = Command::new(bpfq_path())
        .env("COLUMNS", "12")
        .arg(&query)
        .output()
        .expect("bpfq runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let proc_comm = std::fs::read_to_string(format!("/proc/{}/comm", child.pid())).unwrap();
    assert_eq!(
        text.matches(proc_comm.trim()).count(),
        2,
        "whole names though COLUMNS=12:\n{text}"
    );
    assert!(!text.contains('…'), "{text}");
}
