//! Kernel tests of what a user sees when the verifier refuses a program: without `--verbose`
//! the clause, bpfq's one-line reason and the hint, never a line of the verifier's log; with it
//! the whole log, exactly as the kernel wrote it. The refusals are real (a hand-made program the
//! running kernel refuses: no query produces one); `kernel_leaks` checks nothing stays loaded.

use crate::common;

use bpfq_runtime::verifier_report::{report, Refusal, StoppedAt};
use bpfq_runtime::LoadError;
use common::*;

/// The real refusal of a program that exits without setting r0.
fn refusal() -> LoadError {
    match raw_programs::load("bpfq_vrf_report", &raw_programs::refused_by_verifier()) {
        Err(err @ LoadError::Verifier { .. }) => err,
        Err(other) => panic!("expected a verifier refusal, got {other}"),
        Ok(_) => panic!("the verifier accepted a program that never sets r0"),
    }
}

#[test]
fn refusal_without_verbose_names_the_clause_and_reason_but_not_the_log() {
    let _k = shared_kernel();
    let err = refusal();
    let LoadError::Verifier { errno, log } = &err else {
        unreachable!()
    };
    let refused = Refusal { errno: *errno, log };
    assert!(log.contains("R0 !read_ok"), "the kernel's log: {log}");
    let stopped = err.failed_insn().map(|instruction| StoppedAt {
        instruction,
        clause: "where pid == 1",
    });
    assert_eq!(
        stopped.map(|at| at.instruction),
        Some(0),
        "the only instruction: {log}"
    );
    let text = report(
        refused,
        "from task select pid where pid == 1",
        stopped,
        false,
    );
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        assert!(
            !text.contains(line.trim()),
            "the log line {line:?} is shown without --verbose:\n{text}"
        );
    }
    // The release differs between the kernels the tests run on.
    let text = text.replace(
        &bpfq_runtime::verifier_report::kernel_release(),
        "Linux [release]",
    );
    insta::assert_snapshot!(text);
}

#[test]
fn refusal_with_verbose_shows_the_whole_log() {
    let _k = shared_kernel();
    let err = refusal();
    let LoadError::Verifier { errno, log } = &err else {
        unreachable!()
    };
    let refused = Refusal { errno: *errno, log };
    let text = report(refused, "from task select pid", None, true);
    assert!(
        text.contains(log.trim_end()),
        "the kernel's log, whole:\n{log}\nin:\n{text}"
    );
    assert!(
        text.contains("the program exits without setting its return value (R0)"),
        "{text}"
    );
    assert!(!text.contains("--verbose shows"), "{text}");
}
