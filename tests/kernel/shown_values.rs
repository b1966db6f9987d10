//! Kernel tests: how values are shown whatever the format. A NULL pointer is NULL in every
//! format (`NULL` in the table, empty in CSV/TSV, `null` in JSON), never `0`; hidden pointers
//! hash the same way in every run of a boot, with a key kept in a root-only file.

use crate::common;

use common::*;
use std::os::unix::fs::MetadataExt;

/// Kernel threads have no mm: kthreadd (pid 2) is one every kernel has.
const KTHREADD_MM: &str = r#"from task select pid, task.mm where comm == "kthreadd""#;

#[test]
fn a_null_pointer_is_null_in_every_format() {
    let _kernel = shared_kernel();
    let shown = |format: &str| bpfq_ok(&[KTHREADD_MM, "-o", format]);
    assert_eq!(shown("table"), "pid  task.mm\n  2  NULL\n");
    assert_eq!(shown("csv"), "pid,task.mm\n2,\n");
    assert_eq!(shown("tsv"), "pid\ttask.mm\n2\t\n");
    assert_eq!(shown("json"), "[\n{\"pid\":2,\"task.mm\":null}\n]\n");
    assert_eq!(shown("jsonl"), "{\"pid\":2,\"task.mm\":null}\n");
}

#[test]
fn hidden_pointers_are_the_same_in_two_runs_of_a_boot() {
    let _kernel = shared_kernel();
    let sleeper = Named::spawn(&unique_name("ptr"));
    let query = format!(
        "from task select task, task.mm, task.files where pid == {}",
        sleeper.pid()
    );
    let first = bpfq_ok(&[&query, "-o", "csv", "--no-header"]);
    let second = bpfq_ok(&[&query, "-o", "csv", "--no-header"]);
    assert_eq!(first, second);
    let tokens: Vec<&str> = first.trim().split(',').collect();
    assert_eq!(tokens.len(), 3, "{first}");
    for token in &tokens {
        assert!(
            token.starts_with("0x") && token.len() == 18,
            "a hidden token: {first}"
        );
    }
    // The tokens hide the addresses: --show-kptrs shows other words.
    let shown = bpfq_ok(&[&query, "-o", "csv", "--no-header", "--show-kptrs"]);
    for (hidden, real) in tokens.iter().zip(shown.trim().split(',')) {
        assert_ne!(hidden, &real, "{first} vs {shown}");
    }
    let key = std::fs::metadata("/run/bpfq/pointer-key").expect("the boot's key file");
    assert!(key.file_type().is_file());
    assert_eq!(key.mode() & 0o7777, 0o600);
    assert_eq!((key.uid(), key.gid()), (0, 0));
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    let text = std::fs::read_to_string("/run/bpfq/pointer-key").expect("read the key");
    let (made_for, hex) = text.trim().split_once(' ').expect("BOOT_ID KEY");
    assert_eq!(made_for, boot_id.trim());
    assert_eq!(hex.len(), 32);
}
