//! Shell completion in a real bash: the script `bpfq completions bash` prints is sourced, the
//! function it registers for `bpfq` is called as bash's programmable completion calls it
//! (COMP_WORDS, COMP_CWORD), and COMPREPLY is checked against the running kernel's BTF as
//! bpftool and /sys/kernel/btf show it. fish is driven with its own `complete -C`; the zsh
//! script is loaded by zsh (its completion needs a terminal to drive).

use crate::common;

use common::*;
use std::process::Command;

/// COMPREPLY for completing the last of `words` (the program name first).
fn bash_complete(words: &[&str]) -> Vec<String> {
    let bin_dir = bpfq_path().parent().expect("bin dir").to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = r#"
        source <(bpfq completions bash) || exit 3
        function=$(complete -p bpfq | sed -E 's/.* -F ([^ ]+) .*/\1/')
        [ -n "$function" ] || exit 4
        COMP_WORDS=("$@")
        COMP_CWORD=$(( $# - 1 ))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        "$function" bpfq "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let out = Command::new("bash")
        .args(["-c", script, "bash"])
        .args(words)
        .env("PATH", path)
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "bash: {}", stderr(&out));
    stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The iterator targets of the running kernel: `bpf_iter__*` structs as bpftool dumps them.
fn kernel_targets() -> Vec<String> {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        .output()
        .expect("bpftool runs");
    let mut targets: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| l.split("STRUCT 'bpf_iter__").nth(1))
        .filter_map(|rest| rest.split('\'').next())
        .filter(|t| !t.ends_with("__safe_trusted"))
        .map(str::to_string)
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

#[test]
fn targets_complete_after_from() {
    let offered = bash_complete(&["bpfq", "from", "ta"]);
    let expected: Vec<String> = kernel_targets()
        .into_iter()
        .filter(|t| t.starts_with("ta"))
        .collect();
    for target in ["task", "task_file", "task_vma"] {
        assert!(
            offered.iter().any(|o| o == target),
            "{target} in {offered:?}"
        );
    }
    assert_eq!(offered, expected, "the kernel's targets starting with `ta`");
}

#[test]
fn field_paths_complete_one_step_at_a_time() {
    let offered = bash_complete(&["bpfq", "from", "task", "select", "task.mm."]);
    assert!(
        offered.iter().any(|o| o == "task.mm.total_vm"),
        "{offered:?}"
    );
    assert!(offered.iter().all(|o| o.starts_with("task.mm.")));
    // Each offered member is a real one: `bpfq describe task.mm` lists the same names.
    let described = bpfq_ok(&["describe", "task.mm"]);
    for member in &offered {
        let name = member.trim_start_matches("task.mm.");
        assert!(
            described
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} not in describe:\n{described}"
        );
    }
    let one = bash_complete(&[
        "bpfq",
        "from",
        "task",
        "select",
        "pid",
        "where",
        "task.mm.total_",
    ]);
    assert_eq!(one, ["task.mm.total_vm"]);
}

#[test]
fn a_quoted_query_completes_inside_its_word() {
    let offered = bash_complete(&["bpfq", "'from task select pid where pp"]);
    assert_eq!(offered, ["'from task select pid where ppid"]);
}

#[test]
fn columns_subcommands_options_and_formats_complete() {
    let columns = bash_complete(&["bpfq", "from", "task", "select", ""]);
    for name in ["pid", "tid", "comm", "task", "where"] {
        assert!(columns.iter().any(|c| c == name), "{name} in {columns:?}");
    }
    assert_eq!(
        bash_complete(&["bpfq", "from", "task", "select", "pid", "order", "by", "pp"]),
        ["ppid"]
    );
    let first = bash_complete(&["bpfq", ""]);
    for sub in [
        "explain",
        "describe",
        "targets",
        "check",
        "completions",
        "from",
    ] {
        assert!(first.iter().any(|c| c == sub), "{sub} in {first:?}");
    }
    assert!(
        !first.iter().any(|c| c.starts_with("__")),
        "hidden: {first:?}"
    );
    assert_eq!(
        bash_complete(&["bpfq", "-o", ""]),
        ["csv", "json", "jsonl", "table", "tsv"]
    );
    assert_eq!(bash_complete(&["bpfq", "--wa"]), ["--watch"]);
}

/// Candidates fish offers for the command line `line` (fish's own `complete -C`).
fn fish_complete(line: &str) -> Vec<String> {
    let bin_dir = bpfq_path().parent().expect("bin dir").to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("fish")
        .args([
            "--no-config",
            "-c",
            "bpfq completions fish | source; complete -C $argv[1]",
        ])
        .arg(line)
        .env("PATH", path)
        .output()
        .expect("fish runs (apt-get install fish)");
    assert!(out.status.success(), "fish: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(l).to_string())
        .collect()
}

#[test]
fn fish_completes_from_the_same_engine() {
    assert_eq!(
        fish_complete("bpfq from ta"),
        bash_complete(&["bpfq", "from", "ta"])
    );
    assert_eq!(
        fish_complete("bpfq from task select task.mm.total_"),
        ["task.mm.total_vm"]
    );
}

#[test]
fn the_zsh_script_parses_and_registers_its_function() {
    let zsh = bpfq_ok(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef bpfq") && zsh.contains("__complete"));
    let out = Command::new("zsh")
        .args(["-f", "-c", r#"eval "$1" && whence -w _bpfq"#, "zsh", &zsh])
        .output()
        .expect("zsh runs (apt-get install zsh)");
    assert!(out.status.success(), "zsh: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "_bpfq: function");
}
