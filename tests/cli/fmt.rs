//! `bpfq fmt`: prints the canonical form of query files (or standard input), `--check` lists the
//! files not in that form (exit 1, nothing rewritten), `--write` rewrites them; a file that does
//! not parse gets its coded diagnostic and exit 2 and is left as it was. No kernel involved.

use crate::common;

use common::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const MESSY: &str = "-- tasks\nFROM task SELECT pid,comm -- two columns\nWHERE pid>1\n";
const CANONICAL: &str = "-- tasks\nfrom task\nselect pid, comm -- two columns\nwhere pid > 1\n";

/// A temporary directory with the files given, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str, files: &[(&str, &str)]) -> Dir {
        let dir = std::env::temp_dir().join(format!("bpfq-fmt-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("write file");
        }
        Dir(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).expect("read file")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(bpfq_path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bpfq");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("bpfq runs")
}

#[test]
fn prints_the_canonical_form_of_files_and_of_standard_input() {
    let dir = Dir::new("print", &[("a.bpfq", MESSY), ("b.bpfq", CANONICAL)]);
    let out = bpfq(&["fmt", &dir.path("a.bpfq"), &dir.path("b.bpfq")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{CANONICAL}{CANONICAL}"));
    assert_eq!(dir.read("a.bpfq"), MESSY, "printing must not rewrite");

    for args in [&["fmt"][..], &["fmt", "-"][..]] {
        let out = with_stdin(args, MESSY);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), CANONICAL);
    }
}

#[test]
fn check_lists_files_not_in_canonical_form_and_exits_1() {
    let dir = Dir::new("check", &[("messy.bpfq", MESSY), ("fine.bpfq", CANONICAL)]);
    let out = bpfq(&["fmt", "--check", &dir.path("fine.bpfq")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");

    let out = bpfq(&[
        "fmt",
        "--check",
        &dir.path("fine.bpfq"),
        &dir.path("messy.bpfq"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let listed = stdout(&out);
    assert!(
        listed.starts_with(&format!(
            "{}:2: not in canonical form\n",
            dir.path("messy.bpfq")
        )),
        "{listed}"
    );
    assert!(listed.contains("FROM task SELECT pid,comm") && !listed.contains("fine.bpfq"));
    assert!(stderr(&out).contains("1 of 2 files are not in canonical form"));
    assert_eq!(dir.read("messy.bpfq"), MESSY, "--check must not rewrite");

    let out = with_stdin(&["fmt", "--check"], MESSY);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("<stdin>:2: not in canonical form"));
}

#[test]
fn write_rewrites_only_what_changes() {
    let dir = Dir::new("write", &[("messy.bpfq", MESSY), ("fine.bpfq", CANONICAL)]);
    let fine = dir.0.join("fine.bpfq");
    let before = std::fs::metadata(&fine)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = bpfq(&["fmt", "-w", &dir.path("messy.bpfq"), &dir.path("fine.bpfq")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(dir.read("messy.bpfq"), CANONICAL);
    let after = std::fs::metadata(&fine)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(before, after, "a canonical file is not rewritten");
    let out = bpfq(&["fmt", "--check", &dir.path("messy.bpfq")]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_file_that_does_not_parse_is_a_coded_error_and_stays_as_it_was() {
    let broken = "from task select pid,\n";
    let dir = Dir::new("broken", &[("broken.bpfq", broken), ("messy.bpfq", MESSY)]);
    let out = bpfq(&[
        "fmt",
        "--write",
        &dir.path("broken.bpfq"),
        &dir.path("messy.bpfq"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("error[E0006]") && err.contains("broken.bpfq"),
        "{err}"
    );
    assert_eq!(dir.read("broken.bpfq"), broken);
    assert_eq!(
        dir.read("messy.bpfq"),
        CANONICAL,
        "the other files are still formatted"
    );

    let out = with_stdin(&["fmt"], "from task select pid where");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("error[E0001]"), "{}", stderr(&out));

    let out = bpfq(&["fmt", &dir.path("missing.bpfq")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"));
}

#[test]
fn the_repository_examples_and_stdlib_are_canonical() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut args = vec!["fmt".to_string(), "--check".to_string()];
    for dir in ["examples", "stdlib"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).expect("dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|ext| ext == "bpfq") {
                args.push(path.display().to_string());
            }
        }
    }
    assert!(args.len() > 30);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bpfq(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
