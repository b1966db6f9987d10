//! Inputs bpfq must read within bounds: files that are not regular files (a FIFO with no
//! writer, /dev/zero), files past the size cap, BTF whose array lengths or decompressed size
//! are absurd. Each run is capped (`common::bounded`: 1 GiB of address space, minutes of wall
//! clock), so the old behaviour — allocating until killed, or blocking — fails the test.

use crate::common;

use common::bounded::{bounded, bounded_command};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("bpfq-limits-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn fifo(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        path
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The run failed with a coded diagnostic whose first line is `first_line`, and printed no rows.
fn assert_refused(out: &Output, first_line: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{err}");
    assert_eq!(err.lines().next(), Some(first_line), "stderr:\n{err}");
    assert!(out.stdout.is_empty(), "printed: {}", stdout(out));
}

#[test]
fn query_files_that_are_not_regular_files_are_refused_without_reading() {
    let scratch = Scratch::new("special");
    let fifo = scratch.fifo("q.bpfq");
    let fifo = fifo.to_str().unwrap();
    let out = bounded(&["-f", "/dev/zero"], &scratch.0, &[]);
    assert_refused(
        &out,
        "error[E0123]: cannot read query file /dev/zero: it is a character device, not a regular file",
    );
    let out = bounded(&["run", fifo], &scratch.0, &[]);
    assert_refused(
        &out,
        &format!("error[E0123]: cannot read query file {fifo}: it is a FIFO, not a regular file"),
    );
    let out = bounded(&["fmt", "/"], &scratch.0, &[]);
    assert_refused(
        &out,
        "error[E0123]: cannot read file /: it is a directory, not a regular file",
    );
}

#[test]
fn a_query_file_over_the_cap_is_refused() {
    let scratch = Scratch::new("large");
    let path = scratch.0.join("large.bpfq");
    // Sparse: 17 MiB of NULs without writing them.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    let out = bounded(&["-f", "large.bpfq"], &scratch.0, &[]);
    assert_refused(
        &out,
        "error[E0123]: cannot read query file large.bpfq: it is larger than bpfq reads (16 MiB)",
    );
}

#[test]
fn modules_and_library_files_that_are_fifos_are_refused() {
    let scratch = Scratch::new("modules");
    scratch.fifo("m.bpfq");
    scratch.write("use_m.bpfq", "use m;\nfrom task select pid;\n");
    let out = bounded(&["check", "use_m.bpfq"], &scratch.0, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(
            "error[E0123]: cannot read module m.bpfq: it is a FIFO, not a regular file"
        ),
        "{err}"
    );
    assert!(err.contains("use m;"), "the `use` is shown: {err}");

    let library = scratch.0.display().to_string();
    let out = bounded(
        &["explain", "from task select pid"],
        Path::new("/"),
        &[("BPFQ_PATH", &library)],
    );
    assert_refused(
        &out,
        &format!(
            "error[E0123]: cannot read stdlib file {library}/m.bpfq: it is a FIFO, not a regular file"
        ),
    );
}

#[test]
fn completion_over_a_fifo_answers() {
    let scratch = Scratch::new("complete");
    scratch.fifo("q.bpfq");
    let out = bounded(
        &["__complete", "3", "bpfq", "run", "q.bpfq", ""],
        &scratch.0,
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn btf_from_a_device_or_a_fifo_is_refused() {
    let scratch = Scratch::new("btf");
    scratch.fifo("fifo.btf");
    for (file, what) in [("/dev/zero", "a character device"), ("fifo.btf", "a FIFO")] {
        let out = bounded(
            &["explain", "--btf", file, "from task select pid"],
            &scratch.0,
            &[],
        );
        assert_refused(
            &out,
            &format!("error[E0123]: cannot read BTF file {file}: it is {what}, not a regular file"),
        );
    }
}

#[test]
fn an_xz_bomb_stops_at_the_decompressed_cap() {
    let bomb = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bombs/magic-then-1gib-zeros.btf.xz");
    let out = bounded(
        &[
            "explain",
            "--btf",
            bomb.to_str().unwrap(),
            "from task select pid",
        ],
        Path::new("/"),
        &[],
    );
    assert_refused(
        &out,
        &format!(
            "error[E0123]: cannot read BTF file {}: it is larger than bpfq reads (256 MiB)",
            bomb.display()
        ),
    );
}

fn fixture_btf() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/btf/linux-6.18.btf.xz")
        .display()
        .to_string()
}

/// `explain --btf FIXTURE -f FILE` on `text`, capped; the first line of stderr and the exit code.
fn explain_file(tag: &str, text: &str) -> (Option<i32>, String) {
    let scratch = Scratch::new(tag);
    scratch.write("q.bpfq", text);
    let out = bounded(
        &["explain", "--btf", &fixture_btf(), "-f", "q.bpfq"],
        &scratch.0,
        &[],
    );
    let first = stderr(&out).lines().next().unwrap_or("").to_string();
    (out.status.code(), first)
}

#[test]
fn a_long_in_list_is_refused_with_its_limit_and_one_at_the_limit_compiles() {
    let list = |n: usize| {
        let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!(
            "from task select pid where pid in ({});\n",
            values.join(", ")
        )
    };
    // 20,000 values used to nest 20,000 `or`s deep: the compiler's recursion overflowed its stack.
    assert_eq!(
        explain_file("in-long", &list(20_000)),
        (
            Some(2),
            "error[E0125]: `in` list of 20000 values is longer than bpfq compiles (limit 4096)"
                .to_string()
        )
    );
    assert_eq!(
        explain_file("in-limit", &list(4096)),
        (Some(0), String::new())
    );
}

/// `column task.c1 = pid;`, then `cI = c(I-1) + ADDED` up to `c{count}`, and a query of it.
fn chained_columns(count: usize, added: &str) -> String {
    let mut text = String::from("column task.c1 = pid;\n");
    for i in 2..=count {
        text.push_str(&format!("column task.c{i} = c{} + {added};\n", i - 1));
    }
    text + &format!("from task select c{count};\n")
}

#[test]
fn thousands_of_chained_columns_are_refused_at_the_nesting_limit() {
    assert_eq!(
        explain_file("chain", &chained_columns(4000, "1")),
        (
            Some(2),
            "error[E0124]: columns defined through columns nest more than 32 deep (limit 32), from `c4000` down to `c3968`"
                .to_string()
        )
    );
}

#[test]
fn deep_columns_used_in_deep_columns_are_refused_at_the_depth_limit() {
    // Each column alone is within the parser's limit; put in place, 32 of them nest 6,400 deep.
    assert_eq!(
        explain_file("deep", &chained_columns(32, &vec!["1"; 200].join("+"))),
        (
            Some(2),
            "error[E0126]: expression nested too deeply once its columns are put in place (limit 256)"
                .to_string()
        )
    );
}

/// `bpfq COMMAND --btf FIXTURE ARGS` in `scratch`, capped, with the CPU-time limit `cpu`.
fn with_cpu_budget(scratch: &Scratch, command: &str, args: &str, cpu: &str) -> Output {
    let btf = fixture_btf();
    let mut words = vec![command, "--btf", &btf];
    words.extend(args.split_whitespace());
    bounded_command(&words, &scratch.0, &[], &[cpu])
        .output()
        .unwrap()
}

#[test]
fn check_of_thousands_of_queries_stays_within_a_cpu_budget() {
    // Each query used to re-read and re-parse the whole file and clone its every query: 2,000
    // queries took minutes of CPU. Now about a second; the cap is a budget, not a timing.
    let scratch = Scratch::new("check-many");
    let text: String = (0..2000)
        .map(|i| format!("query q{i} = from task select pid where pid == {i};\n"))
        .collect();
    scratch.write("many.bpfq", &text);
    let out = with_cpu_budget(&scratch, "check", "many.bpfq", "--cpu=60");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("ok "))
            .count(),
        2000
    );
}

#[test]
fn a_megabyte_unknown_name_gets_no_suggestion_and_costs_little() {
    // The did-you-mean search used to compare it with every candidate by edit distance
    // (quadratic in its length): 22 s and 240 MB.
    let scratch = Scratch::new("long-name");
    scratch.write(
        "q.bpfq",
        &format!("from task select {};\n", "a".repeat(1 << 20)),
    );
    let btf = fixture_btf();
    let out = bounded_command(
        &["explain", "--btf", &btf, "-f", "q.bpfq"],
        &scratch.0,
        &[],
        &["--cpu=10"],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", &err[..err.len().min(300)]);
    assert!(err.starts_with("error[E0102]: unknown column or field `aaaa"));
    assert!(
        !err.contains("did you mean"),
        "a suggestion for a 1 MB name"
    );
}
