//! Kernel tests: text the kernel hands over (a process's own name) never reaches the reader's
//! terminal raw: control and bidi characters are escaped in every output format, each in a way
//! its readers still parse.

use crate::common;

use common::{bpfq_ok, shared_kernel, spawn_python, KillOnDrop};

/// A python3 child that names itself `name` (prctl PR_SET_NAME) and says "ready" once it has.
fn named_by_prctl(name: &str) -> KillOnDrop {
    let script = "import ctypes, sys\n\
                  ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)\n\
                  print('ready', flush=True)\n\
                  sys.stdin.read()\n";
    let mut child = spawn_python(&[], &["-c", script, name]);
    assert_eq!(child.first_line(), "ready");
    child
}

/// The output of `select comm` for the child alone, in `format`.
fn comm_of(child: &KillOnDrop, format: &str) -> String {
    let query = format!("from task select comm where pid == {}", child.pid());
    bpfq_ok(&[&query, "-o", format, "--no-header"])
}

#[test]
fn escape_sequences_in_a_process_name_are_escaped_in_every_format() {
    let _k = shared_kernel();
    let child = named_by_prctl("\u{1b}[31mRED\u{1b}[0m");
    let expected = [
        ("table", "\\x1b[31mRED\\x1b[0m\n"),
        ("csv", "\\x1b[31mRED\\x1b[0m\n"),
        ("tsv", "\\x1b[31mRED\\x1b[0m\n"),
        ("json", "[\n{\"comm\":\"\\u001b[31mRED\\u001b[0m\"}\n]\n"),
        ("jsonl", "{\"comm\":\"\\u001b[31mRED\\u001b[0m\"}\n"),
    ];
    for (format, text) in expected {
        assert_eq!(comm_of(&child, format), text, "-o {format}");
    }
}

#[test]
fn a_right_to_left_override_is_escaped_in_every_format() {
    let _k = shared_kernel();
    // "evil" then U+202E: a terminal would show what follows reversed.
    let child = named_by_prctl("evil\u{202e}fdp.exe");
    let expected = [
        ("table", "evil\\u{202e}fdp.exe\n"),
        ("csv", "evil\\u{202e}fdp.exe\n"),
        ("tsv", "evil\\u{202e}fdp.exe\n"),
        ("json", "[\n{\"comm\":\"evil\\u202efdp.exe\"}\n]\n"),
        ("jsonl", "{\"comm\":\"evil\\u202efdp.exe\"}\n"),
    ];
    for (format, text) in expected {
        assert_eq!(comm_of(&child, format), text, "-o {format}");
    }
}

#[test]
fn csv_escapes_a_comma_holding_name_and_still_quotes_it() {
    let _k = shared_kernel();
    let child = named_by_prctl("a,\"b\"\r\\x");
    assert_eq!(comm_of(&child, "csv"), "\"a,\"\"b\"\"\\r\\\\x\"\n");
    assert_eq!(comm_of(&child, "tsv"), "a,\"b\"\\r\\\\x\n");
    assert_eq!(comm_of(&child, "table"), "a,\"b\"\\r\\x\n");
}
