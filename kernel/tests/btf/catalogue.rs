//! Iterator catalogue: targets found in BTF fixtures match bpftool's view, and the 6.18 catalogue is snapshotted for review.

use crate::common;

use std::collections::BTreeSet;
use std::fmt::Write;
use std::process::Command;

use bpfq_kernel::{discover, find_target, meta_layout, type_name, Btf, IterTarget, MetaLayout};

fn bpftool_context_structs(btf: &Btf) -> BTreeSet<String> {
    let raw = common::raw_copy(btf, "catalogue");
    let output = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(&raw)
        .args(["format", "raw"])
        .output();
    let _ = std::fs::remove_file(&raw);
    let output = output.expect("bpftool runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            line.split_once("] STRUCT 'bpf_iter__")
                .map(|(_, rest)| rest)
        })
        .filter_map(|rest| rest.split_once('\'').map(|(name, _)| name.to_string()))
        .filter(|name| !name.ends_with("__safe_trusted"))
        .collect()
}

fn listing(btf: &Btf, targets: &[IterTarget]) -> String {
    let mut text = String::new();
    for target in targets {
        let main = target
            .main_object
            .map_or("-".to_string(), |index| target.context[index].name.clone());
        let attach = target
            .attach_func
            .and_then(|func| btf.name_of(func))
            .unwrap_or("-");
        writeln!(
            text,
            "{} ({}, attach {attach}, main object {main})",
            target.name,
            type_name(btf, target.ctx_struct)
        )
        .unwrap();
        for field in &target.context {
            let pointee = field
                .pointee
                .map_or(String::new(), |p| format!(" -> {}", type_name(btf, p)));
            writeln!(
                text,
                "  {:>3}  {:<12} {}{pointee}",
                field.byte_offset, field.name, field.type_name
            )
            .unwrap();
        }
    }
    text
}

#[test]
fn linux_6_18_targets_match_bpftool_and_have_attach_functions() {
    let btf = common::fixture("6.18");
    let targets = discover(btf).unwrap();
    let names: BTreeSet<String> = targets.iter().map(|t| t.name.clone()).collect();
    assert_eq!(names, bpftool_context_structs(btf));
    assert_eq!(targets.len(), 18);
    let sorted: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    assert!(
        sorted.windows(2).all(|pair| pair[0] < pair[1]),
        "sorted and unique"
    );
    for target in &targets {
        let func = target
            .attach_func
            .unwrap_or_else(|| panic!("{} has no attach func", target.name));
        assert_eq!(
            btf.name_of(func),
            Some(format!("bpf_iter_{}", target.name).as_str())
        );
        assert!(target.context.iter().all(|field| field.name != "meta"));
    }
    insta::assert_snapshot!("catalogue_6_18", listing(btf, &targets));
}

#[test]
fn every_fixture_lists_targets_like_bpftool() {
    for version in common::VERSIONS {
        let btf = common::fixture(version);
        let targets = discover(btf).unwrap();
        let names: BTreeSet<String> = targets.iter().map(|t| t.name.clone()).collect();
        assert_eq!(names, bpftool_context_structs(btf), "linux {version}");
        assert!(
            targets.iter().all(|t| t.attach_func.is_some()),
            "linux {version}"
        );
    }
    assert_eq!(discover(common::fixture("5.10")).unwrap().len(), 11);
}

#[test]
fn find_target_equals_the_discovered_entry() {
    let btf = common::fixture("6.18");
    let all = discover(btf).unwrap();
    for name in ["task", "tcp", "task_file", "bpf_map_elem"] {
        let found = find_target(btf, name).unwrap().expect("target exists");
        assert_eq!(Some(&found), all.iter().find(|t| t.name == name));
    }
    assert_eq!(find_target(btf, "no_such_target").unwrap(), None);
    assert_eq!(find_target(btf, "task__safe_trusted").unwrap(), None);
}

#[test]
fn main_objects_are_the_iterated_structs() {
    let btf = common::fixture("6.18");
    let main_of = |name: &str| {
        let target = find_target(btf, name).unwrap().unwrap();
        let field = &target.context[target.main_object.expect("has a main object")];
        (
            field.name.clone(),
            field.byte_offset,
            field.type_name.clone(),
        )
    };
    assert_eq!(
        main_of("task"),
        ("task".to_string(), 8, "struct task_struct *".to_string())
    );
    assert_eq!(main_of("task_file").0, "task");
    assert_eq!(main_of("task_vma").0, "task");
    assert_eq!(
        main_of("tcp"),
        (
            "sk_common".to_string(),
            8,
            "struct sock_common *".to_string()
        )
    );
}

#[test]
fn map_element_targets_end_on_a_null_element_not_map() {
    for version in common::VERSIONS {
        let btf = common::fixture(version);
        let fields = |name: &str| {
            let target = find_target(btf, name).unwrap().unwrap();
            let name_of = |index: Option<usize>| index.map(|i| target.context[i].name.clone());
            (name_of(target.main_object), name_of(target.final_null))
        };
        let both = |main: &str, last: &str| (Some(main.to_string()), Some(last.to_string()));
        assert_eq!(
            fields("bpf_map_elem"),
            both("map", "key"),
            "linux {version}"
        );
        assert_eq!(fields("sockmap"), both("sk", "sk"), "linux {version}");
        assert_eq!(
            fields("bpf_sk_storage_map"),
            both("sk", "sk"),
            "linux {version}"
        );
        assert_eq!(fields("task"), both("task", "task"), "linux {version}");
    }
}

#[test]
fn meta_layout_points_at_seq_and_seq_num() {
    for version in common::VERSIONS {
        let layout = meta_layout(common::fixture(version)).unwrap();
        assert_eq!(
            layout,
            MetaLayout {
                meta_offset: 0,
                seq_offset: 0,
                seq_num_offset: 16
            },
            "linux {version}"
        );
    }
}

#[test]
fn enumerators_are_found_by_name() {
    let btf = common::fixture("6.18");
    let (id, value) = btf
        .find_enumerator("TCP_LISTEN")
        .expect("TCP_LISTEN exists");
    assert_eq!(value, 10);
    match btf.get(id).expect("decodes") {
        bpfq_kernel::BtfType::Enum { values, .. } => {
            assert!(values.contains(&("TCP_ESTABLISHED", 1)))
        }
        other => panic!("not an enum: {other:?}"),
    }
    assert!(btf.find_enumerator("NO_SUCH_ENUMERATOR_X").is_none());
}
