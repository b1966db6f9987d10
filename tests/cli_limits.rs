//! Inputs bpfq must read within bounds: files that are not regular files (a FIFO with no
//! writer, /dev/zero), files past the size cap, BTF whose array lengths or decompressed size
//! are absurd. Each run is capped (`common::bounded`: 1 GiB of address space, minutes of wall
//! clock), so the old behaviour — allocating until killed, or blocking — fails the test.

mod common;

use common::bounded::bounded;
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
        err.starts_with("error[E0121]: cannot read module `m`"),
        "{err}"
    );
    assert!(
        err.contains("m.bpfq: it is a FIFO, not a regular file"),
        "{err}"
    );

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
