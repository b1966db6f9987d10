//! The bad-input corpus: every malformed query, `--param` value, query file, command line
//! (`tests/corpus/*/`) and BTF file (made from the 6.18 fixture by `common/btf_mutations.rs`)
//! runs through the real `bpfq` binary. Each must end with its documented exit code (2: usage or
//! compile error, 1: runtime error), a message on stderr and no panic or internal error, leave
//! no BPF object behind, and match its reviewed snapshot (`tests/corpus/snapshots/`).
//!
//! A corpus file's first line says how to run it: `-- expect CODE: ARGS`, where ARGS are
//! words with `{query}` (the rest of the file, as one argument), `{file}` (the case file itself)
//! and `{btf}` (the 6.18 fixture, decompressed) substituted.

use crate::common;

use common::bounded::bounded_command;
use common::btf_mutations::{xz_variants, RawBtf};
use common::*;
use std::path::{Path, PathBuf};

const GROUPS: &[&str] = &["queries", "params", "files", "cli", "runtime"];

/// One corpus case: the command line to run and the exit code it must end with.
struct Case {
    name: String,
    /// The working directory (paths in messages are relative to it).
    dir: PathBuf,
    args: Vec<String>,
    shown_args: String,
    expect: i32,
}

/// What a case did.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// A scratch directory: the decompressed fixture, the generated BTF files, an empty HOME.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("bpfq-corpus-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("home")).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture_xz() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/btf/linux-6.18.btf.xz"),
    )
    .unwrap()
}

fn decompress(xz: &[u8]) -> Vec<u8> {
    let mut raw = Vec::new();
    lzma_rs::xz_decompress(&mut &xz[..], &mut raw).unwrap();
    raw
}

/// Reads `group/NAME.bpfq`: its header and body become a case.
fn file_case(group: &str, path: &Path, btf: &Path) -> Case {
    let bytes = std::fs::read(path).unwrap();
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let header = std::str::from_utf8(&bytes[..newline]).unwrap();
    let body = String::from_utf8_lossy(bytes.get(newline + 1..).unwrap_or_default());
    let body = body.strip_suffix('\n').unwrap_or(&body).to_string();
    let rest = header
        .strip_prefix("-- expect ")
        .unwrap_or_else(|| panic!("{}: no `-- expect CODE: ARGS` line", path.display()));
    let (code, words) = rest.split_once(':').expect("CODE: ARGS");
    let name = path.file_stem().unwrap().to_string_lossy();
    let relative = format!("{group}/{name}.bpfq");
    let args = words
        .split_whitespace()
        .map(|word| match word {
            "{query}" => body.clone(),
            "{file}" => relative.clone(),
            "{btf}" => btf.display().to_string(),
            other => other.to_string(),
        })
        .collect();
    // Short queries are shown as typed (quoted); long or unprintable ones by placeholder.
    let shown_query = match body.len() <= 100 && !body.chars().any(char::is_control) {
        true if !body.contains('\'') => format!("'{body}'"),
        true => format!("{body:?}"),
        false => "{query}".to_string(),
    };
    Case {
        name: format!("{group}__{name}"),
        dir: corpus_dir(),
        args,
        shown_args: words.trim().replace("{query}", &shown_query),
        expect: code.trim().parse().expect("exit code"),
    }
}

/// The generated BTF files, each given to `explain` (and those broken in the header also to
/// `targets`); run in the scratch directory so messages name just the file.
fn btf_cases(scratch: &Path, raw: &RawBtf, xz: &[u8]) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut variants = raw.variants();
    variants.extend(xz_variants(xz));
    for (name, bytes) in variants {
        let file = format!("{name}.btf");
        std::fs::write(scratch.join(&file), bytes).unwrap();
        let query = "from task select pid, comm, state";
        cases.push(Case {
            name: format!("btf__{name}"),
            dir: scratch.to_path_buf(),
            args: vec!["explain".into(), "--btf".into(), file.clone(), query.into()],
            shown_args: format!("explain --btf {file} '{query}'"),
            expect: 2,
        });
    }
    for name in [
        "magic-zero",
        "header-length-huge",
        "cut-in-half",
        "task-struct-name-out-of-range",
    ] {
        let file = format!("{name}.btf");
        cases.push(Case {
            name: format!("btf__{name}__targets"),
            dir: scratch.to_path_buf(),
            args: vec!["targets".into(), "--btf".into(), file.clone()],
            shown_args: format!("targets --btf {file}"),
            expect: 2,
        });
    }
    cases.push(Case {
        name: "btf__missing-file".into(),
        dir: scratch.to_path_buf(),
        args: ["describe", "task", "--btf", "no-such.btf"]
            .map(String::from)
            .to_vec(),
        shown_args: "describe task --btf no-such.btf".into(),
        expect: 2,
    });
    cases
}

/// Each case runs capped (`common::bounded`): bad input must not make bpfq allocate or block
/// without end.
fn run_case(case: &Case, home: &Path) -> Outcome {
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let out = bounded_command(&args, &case.dir, &[], &[])
        .env_remove("BPFQ_PATH")
        .env("HOME", home)
        .output()
        .expect("bpfq runs");
    Outcome {
        code: out.status.code(),
        stdout: stdout(&out),
        stderr: stderr(&out),
    }
}

/// Very long lines (a 2,100-column query echoed in a diagnostic) are cut for the snapshot.
fn cut_long_lines(text: &str, scratch: &Path) -> String {
    text.replace(&scratch.display().to_string(), "<scratch>")
        .lines()
        .map(|line| match line.char_indices().nth(160) {
            Some((at, _)) => format!("{}… ({} bytes)", &line[..at], line.len()),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_bad_input_has_a_documented_exit_code_and_a_reviewed_message() {
    let _k = exclusive_kernel();
    let scratch = Scratch::new();
    let xz = fixture_xz();
    let raw = RawBtf::new(decompress(&xz));
    let btf = scratch.0.join("linux-6.18.btf");
    std::fs::write(&btf, &raw.bytes).unwrap();

    let mut cases = Vec::new();
    for group in GROUPS {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir().join(group))
            .unwrap()
            .map(|e| e.unwrap().path())
            // Subdirectories hold the modules that cases `use` (files/lib/).
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        cases.extend(paths.iter().map(|p| file_case(group, p, &btf)));
    }
    cases.extend(btf_cases(&scratch.0, &raw, &xz));
    assert!(cases.len() >= 100, "the corpus holds {} cases", cases.len());

    let baseline = bpf_objects();
    let home = scratch.0.join("home");
    // Two workers: most cases are compile-only and take a fraction of a second each.
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let halves: Vec<_> = cases
            .chunks(cases.len().div_ceil(2))
            .map(|chunk| {
                let home = &home;
                scope.spawn(move || chunk.iter().map(|c| run_case(c, home)).collect::<Vec<_>>())
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_objects_return_to(baseline, "after the bad-input corpus");

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../corpus/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (case, outcome) in cases.iter().zip(&outcomes) {
            let err = &outcome.stderr;
            assert_eq!(
                outcome.code,
                Some(case.expect),
                "{}: `bpfq {}` should exit with {}:\n{err}",
                case.name,
                case.shown_args,
                case.expect
            );
            assert!(!err.trim().is_empty(), "{}: no message", case.name);
            assert!(
                !err.contains("panicked")
                    && !err.contains("internal error")
                    && !err.contains("E09"),
                "{}: a bug in bpfq:\n{err}",
                case.name
            );
            // Only `check` prints (its verdict lines) on a failure.
            assert!(
                outcome
                    .stdout
                    .lines()
                    .all(|l| l.starts_with("FAILED") || l.starts_with("ok ")),
                "{}: printed output:\n{}",
                case.name,
                outcome.stdout
            );
            let mut shown = format!("bpfq {}\nexit code: {}\n", case.shown_args, case.expect);
            if !outcome.stdout.is_empty() {
                shown.push_str(&format!("--- stdout\n{}\n", outcome.stdout.trim_end()));
            }
            shown.push_str(&format!(
                "--- stderr\n{}\n",
                cut_long_lines(err.trim_end(), &scratch.0)
            ));
            insta::assert_snapshot!(case.name.clone(), shown);
        }
    });
}
