//! The terminal-facing options of `bpfq`, run as the real binary against the running kernel:
//! table width, `--timings`, `--watch`/`--count`. Each result is checked against /proc for
//! processes the test spawned itself.

use crate::common;

use common::*;
use std::io::{BufRead, BufReader};
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

/// The stages `--timings` reports before a query runs, in the order they run.
const COMPILE_STAGES: &[&str] = &[
    "open BTF",
    "stdlib",
    "compile: parse",
    "compile: bind",
    "compile: plan",
    "compile: lower",
    "compile: emit",
];

/// The stages of running a query's program, in the order they run.
const PROGRAM_STAGES: &[&str] = &[
    "load (verifier)",
    "attach (link)",
    "iterator create",
    "read",
    "format",
    "total",
];

#[test]
fn timings_go_to_stderr_and_leave_stdout_alone() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("timed"));
    let query = format!(
        "from task select pid, tid, comm where pid == {}",
        child.pid()
    );
    let plain = bpfq(&[&query, "-o", "csv"]);
    let timed = bpfq(&["--timings", &query, "-o", "csv"]);
    assert!(timed.status.success(), "{}", stderr(&timed));
    assert_eq!(
        stdout(&timed),
        stdout(&plain),
        "stdout is the same with --timings"
    );
    assert_eq!(
        csv_rows(&stdout(&timed)),
        vec![vec![
            child.pid().to_string(),
            child.pid().to_string(),
            child.name.clone()
        ]]
    );
    assert!(!stderr(&plain).contains("timings"), "{}", stderr(&plain));
    assert_stages_in_order(&stderr(&timed), &[COMPILE_STAGES, PROGRAM_STAGES].concat());
}

/// Checks that `report` lists each of `stages`, in order, each with its milliseconds.
fn assert_stages_in_order(report: &str, stages: &[&str]) {
    let mut at = 0;
    for stage in stages {
        let line = report[at..]
            .lines()
            .position(|l| l.trim_start().starts_with(stage))
            .unwrap_or_else(|| panic!("no `{stage}` after the stages before it:\n{report}"));
        let text = report[at..].lines().nth(line).unwrap();
        let millis: f64 = text[text.find(stage).unwrap() + stage.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no milliseconds in `{text}`"));
        assert!(millis >= 0.0);
        at += report[at..].find(text).unwrap() + text.len();
    }
}

/// `--timings` on every run path: a query grouped in the kernel, one whose rows travel through
/// a ring buffer, and a join each report their own load, read and format stages.
#[test]
fn timings_cover_every_run_path() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("timedpath"));
    let grouped = format!(
        "from task select tgid, count(*) where comm == \"{}\" group by tgid",
        child.name
    );
    let program = [COMPILE_STAGES, PROGRAM_STAGES].concat();
    let join = [&PROGRAM_STAGES[..4], &["join"], &PROGRAM_STAGES[4..]].concat();
    let cases = [
        (grouped.as_str(), &program),
        ("from unix select inode limit 1", &program),
        (
            "from task_file as f join tcp on f.inode == tcp.inode select f.fd limit 1",
            &join,
        ),
    ];
    for (query, stages) in cases {
        let timed = bpfq(&["--timings", query, "-o", "csv"]);
        assert!(timed.status.success(), "{query}: {}", stderr(&timed));
        assert_stages_in_order(&stderr(&timed), stages);
    }
}

/// Result sets of piped `--watch` output: separated by one empty line, each with its header.
fn result_sets(text: &str) -> Vec<Vec<Vec<String>>> {
    text.split("\n\n").map(csv_rows).collect()
}

#[test]
fn watch_count_reruns_the_loaded_program() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    let first = Named::spawn(&unique_name("watch1"));
    let query = format!(
        "from task select pid, comm, ppid where comm == \"{}\"",
        first.name
    );
    let started = std::time::Instant::now();
    let out = bpfq(&["--watch", "0.3", "--count", "2", &query, "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "the second run waits for the interval"
    );
    let sets = result_sets(&stdout(&out));
    assert_eq!(sets.len(), 2, "two result sets:\n{}", stdout(&out));
    let proc_ppid = proc_status_first(first.pid(), "PPid");
    assert_eq!(
        proc_ppid,
        std::process::id().to_string(),
        "spawned by this test"
    );
    for set in &sets {
        assert_eq!(set.len(), 1, "one row per set: {set:?}");
        assert_eq!(set[0][0], first.pid().to_string());
        assert_eq!(set[0][1], first.name);
        assert_eq!(set[0][2], proc_ppid, "ppid as /proc has it");
    }
    assert_objects_return_to(baseline, "--watch --count 2");
}

#[test]
fn each_watch_run_sees_the_kernel_anew() {
    let _k = shared_kernel();
    let name = unique_name("watch2");
    let query = format!("from task select pid where comm == \"{name}\"");
    let mut watcher = Command::new(bpfq_path())
        .args(["--watch", "1", "--count", "2", &query, "-o", "csv"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bpfq runs");
    // The first run finds nothing (its header comes alone); a process started before the
    // second run, a second later, is in it.
    let mut lines = BufReader::new(watcher.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().expect("a header").expect("text"), "pid");
    let child = Named::spawn(&name);
    let rest: Vec<String> = lines.map(|l| l.expect("text")).collect();
    assert!(watcher.wait().expect("bpfq ends").success());
    assert_eq!(
        rest,
        vec![String::new(), "pid".to_string(), child.pid().to_string()],
        "an empty line, then the second result set"
    );
}

/// Output of `bpfq ARGS` on a terminal `columns` wide: a pseudo-terminal from script(1)
/// (util-linux), sized with stty, so bpfq's TIOCGWINSZ sees a real terminal.
fn on_terminal(columns: u32, args: &[&str]) -> String {
    let quoted: Vec<String> = std::iter::once(bpfq_path().display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let command = format!("stty cols {columns} rows 50; {}", quoted.join(" "));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("COLUMNS")
        .output()
        .expect("script(1) runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).replace('\r', "")
}

#[test]
fn terminal_tables_fit_the_terminal_width() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("termwidth"));
    let query = format!(
        "from task select pid, comm, comm as c2, comm as c3, comm as c4 where pid == {}",
        child.pid()
    );
    let cut = on_terminal(50, &[&query]);
    let lines: Vec<&str> = cut.lines().collect();
    assert_eq!(lines.len(), 2, "header and one row:\n{cut}");
    for line in &lines {
        assert!(line.chars().count() <= 50, "wider than 50:\n{cut}");
    }
    assert!(lines[1].starts_with(&child.pid().to_string()), "{cut}");
    let prefix: String = child.name.chars().take(4).collect();
    assert_eq!(lines[1].matches('…').count(), 4, "every name cut:\n{cut}");
    assert!(lines[1].contains(&prefix), "{cut}");
    let wide = on_terminal(50, &["--wide", &query]);
    assert_eq!(
        wide.matches(&child.name).count(),
        4,
        "--wide keeps names whole:\n{wide}"
    );
}
