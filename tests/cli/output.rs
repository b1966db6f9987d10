//! Every way of ending a run is a clean, coded exit, for every subcommand: a reader that went
//! away ends it quietly with exit 0 (as `| head -1` expects), a full disk is E0905 "cannot write
//! output: No space left on device" with exit 1, and a standard output closed before the start
//! is E0905 too (its writes would otherwise vanish), never an internal error.

use crate::common;

use common::*;
use std::process::{Command, Output, Stdio};

/// A query file for `check` and `fmt`, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("bpfq-output-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("q.bpfq"), "from task select pid limit 1;\n").expect("write");
        Scratch(dir)
    }

    fn file(&self) -> String {
        self.0.join("q.bpfq").display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One command line per subcommand (and per way a query's rows are produced and written).
fn commands(file: &str) -> Vec<Vec<String>> {
    let lines: &[&[&str]] = &[
        &["from task select pid"],
        &["from task select pid", "-o", "json"],
        &["from task select comm, count(pid) as n group by comm"],
        &[
            "from task select comm, count(pid) as n group by comm",
            "--group-in",
            "user",
        ],
        &["from task select pid order by pid"],
        &["from task select pid", "--count", "2", "--watch", "0.01"],
        &["from unix select inode"],
        &["from task as t join task_file as f on t.pid == f.pid select t.pid, f.fd limit 3"],
        &["run", file],
        &["describe", "task"],
        &["explain", "from task select pid"],
        &["check", file],
        &["targets"],
        &["doctor"],
        &["fmt", file],
        &["completions", "bash"],
        &["completions", "elvish"],
        &["man"],
        &["--help"],
        &["--version"],
    ];
    lines
        .iter()
        .map(|line| line.iter().map(|w| w.to_string()).collect())
        .collect()
}

/// `bpfq args` with standard output on `stdout`.
fn run_with(args: &[String], stdout: Stdio) -> Output {
    Command::new(bpfq_path())
        .args(args)
        .stdout(stdout)
        .output()
        .expect("bpfq runs")
}

#[test]
fn a_full_disk_is_a_coded_error_for_every_subcommand() {
    let _k = shared_kernel();
    let scratch = Scratch::new("full");
    for args in commands(&scratch.file()) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = run_with(&args, Stdio::from(full));
        assert_eq!(
            (out.status.code(), stderr(&out).as_str()),
            (
                Some(1),
                "error[E0905]: cannot write output: No space left on device\n\n"
            ),
            "bpfq {args:?}"
        );
    }
}

#[test]
fn a_reader_that_went_away_ends_every_subcommand_quietly() {
    let _k = shared_kernel();
    let scratch = Scratch::new("pipe");
    for args in commands(&scratch.file()) {
        // The read end is closed before bpfq starts: its first write meets EPIPE.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = run_with(&args, Stdio::from(writer));
        assert_eq!(
            (out.status.code(), stderr(&out).as_str()),
            (Some(0), ""),
            "bpfq {args:?}"
        );
    }
}

#[test]
fn a_closed_standard_output_is_a_coded_error_not_a_silent_success() {
    let _k = shared_kernel();
    let scratch = Scratch::new("closed");
    for args in commands(&scratch.file()) {
        let out = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" >&-")
            .arg(bpfq_path())
            .args(&args)
            .output()
            .expect("sh runs");
        assert_eq!(
            (out.status.code(), stderr(&out).as_str()),
            (
                Some(1),
                "error[E0905]: cannot write output: standard output is closed\n\n"
            ),
            "bpfq {args:?}"
        );
    }
}
