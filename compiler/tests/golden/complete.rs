//! Completion of unfinished queries against the BTF fixtures: what `bpfq __complete` offers at
//! each point of a query. Expectations are kernel facts (struct members, iterator targets) read
//! off the fixture with the BTF reader, or snapshots reviewed by hand.

use crate::common;

use bpfq_compiler::complete::unfinished_word;
use bpfq_kernel::Btf;

fn candidates(btf: &Btf, text: &str) -> Vec<String> {
    common::with_env(btf, "", |_, env| env.complete(text))
}

#[test]
fn the_unfinished_word_is_a_name_or_path() {
    assert_eq!(
        unfinished_word("from task select task.mm.tot"),
        "task.mm.tot"
    );
    assert_eq!(unfinished_word("from task select pid,comm"), "comm");
    assert_eq!(unfinished_word("from task select "), "");
    assert_eq!(unfinished_word("where x == $po"), "$po");
}

#[test]
fn targets_after_from() {
    let btf = common::fixture("6.18");
    assert_eq!(
        candidates(btf, "from ta"),
        ["task", "task_file", "task_vma"]
    );
    let all = candidates(btf, "from ");
    for target in ["tcp", "udp", "bpf_map", "ksym", "cgroup"] {
        assert!(all.iter().any(|t| t == target), "{target} in {all:?}");
    }
}

#[test]
fn clause_keywords_after_the_target() {
    let btf = common::fixture("6.18");
    assert_eq!(candidates(btf, "from task s"), ["select"]);
    assert_eq!(
        candidates(btf, "from task(pid = 1) "),
        ["limit", "order", "select", "where"]
    );
    assert_eq!(candidates(btf, "from task select pid order "), ["by"]);
    assert!(candidates(btf, "from task select pid limit ").is_empty());
}

#[test]
fn columns_and_context_fields_in_expressions() {
    let btf = common::fixture("6.18");
    let select = candidates(btf, "from task select ");
    for name in ["pid", "tid", "comm", "ppid", "task", "where", "order"] {
        assert!(select.iter().any(|c| c == name), "{name} in {select:?}");
    }
    assert_eq!(candidates(btf, "from task select pid where pp"), ["ppid"]);
    assert_eq!(
        candidates(btf, "from task select pid order by co"),
        ["comm", "compat_robust_list", "container"],
        "the stdlib columns, and a member of struct task_struct"
    );
    // Members of the main object may be written bare once a letter is typed.
    let bare = candidates(btf, "from task select real_pa");
    assert_eq!(bare, ["real_parent"]);
}

#[test]
fn paths_complete_one_member_at_a_time() {
    for version in common::VERSIONS {
        let btf = common::fixture(version);
        let mm_struct = btf
            .find_many(&[(bpfq_kernel::Kind::Struct, "mm_struct")])
            .remove(0)
            .expect("struct mm_struct");
        let members: Vec<String> = btf
            .members(mm_struct)
            .expect("members")
            .iter()
            .filter(|m| !m.name.is_empty())
            .map(|m| format!("task.mm.{}", m.name))
            .collect();
        let mut expected = members.clone();
        expected.sort();
        expected.dedup();
        let got = candidates(btf, "from task select task.mm.");
        assert_eq!(got, expected, "linux {version}");
        assert!(got.iter().any(|c| c == "task.mm.total_vm"), "{version}");
        assert_eq!(
            candidates(btf, "from task select pid where task.mm.total_"),
            ["task.mm.total_vm"]
        );
    }
}

#[test]
fn unknown_paths_and_text_without_from_give_nothing() {
    let btf = common::fixture("6.18");
    assert!(candidates(btf, "from task select task.nosuch.").is_empty());
    assert!(candidates(btf, "from task select pid.").is_empty());
    assert!(candidates(btf, "select pi").is_empty());
    assert!(candidates(btf, "from nosuch select x.").is_empty());
}
