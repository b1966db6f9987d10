//! Stage: bind. The `kernfs_path` builtin against every BTF fixture: it finds the parent pointer
//! under either name (`parent` before Linux 6.15, `__parent` after), and a stdlib column whose
//! argument is not a kernfs node is a clean E0107 naming why, never an internal error.

use crate::common;

use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::{Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::{Btf, Kind};

/// Columns on `task` (offered by every fixture, 5.10 included): the path of the task's cgroup2
/// cgroup, and one given the wrong kind of pointer.
const USER_LIB: &str = "\
--- The task's cgroup2 path.
column task.cg_path = kernfs_path(task.cgroups.dfl_cgrp.kn);
--- Given the cgroup, not its kernfs node.
column task.cg_wrong = kernfs_path(task.cgroups.dfl_cgrp);
";

/// The bound type of `query`'s only column, or the code and message of its diagnostic.
fn bind_one(btf: &Btf, query: &str) -> Result<String, String> {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(
        &mut sources,
        &[("user/kernfs.bpfq".to_string(), USER_LIB.to_string())],
    )
    .expect("stdlib");
    let features = bpfq_kernel::KernelFeatures::from_btf(btf).expect("features of the BTF");
    let env = Compiler::new(btf, &features, &stdlib, &sources);
    match env.compile_single(Input::File(file), Options::default()) {
        Ok(compiled) => Ok(compiled
            .plan
            .layout
            .columns
            .iter()
            .map(|c| {
                format!(
                    "{} {:?} null_flag={}",
                    c.name,
                    c.kind,
                    c.null_flag.is_some()
                )
            })
            .collect()),
        Err(diag) => Err(format!("{}: {}", diag.code, diag.render(&sources))),
    }
}

#[test]
fn kernfs_path_binds_on_every_fixture_and_a_wrong_argument_is_e0107() {
    let mut out = String::new();
    for version in common::VERSIONS {
        let btf = common::fixture(version);
        let good = bind_one(btf, "from task select cg_path")
            .unwrap_or_else(|e| panic!("Linux {version}: {e}"));
        let bad = bind_one(btf, "from task select cg_wrong").expect_err("not a kernfs node");
        assert!(bad.starts_with("E0107"), "Linux {version}: {bad}");
        let parent = if btf_has_member(btf, "kernfs_node", "__parent") {
            "__parent"
        } else {
            "parent"
        };
        out.push_str(&format!(
            "## Linux {version} (parent pointer: {parent})\n{good}\n"
        ));
        if version == "6.18" {
            out.push_str(&format!("{bad}\n"));
        }
    }
    insta::assert_snapshot!(out);
}

fn btf_has_member(btf: &Btf, strukt: &str, member: &str) -> bool {
    let id = btf.find(Kind::Struct, strukt).expect("struct exists");
    btf.member(id, member).expect("BTF readable").is_some()
}

/// Fixture `version`'s BTF with every string `name` renamed (its last byte changed): the same
/// kernel as if its struct kernfs_node had no such member.
fn fixture_without(version: &str, name: &str) -> Btf {
    let path = format!(
        "{}/../tests/fixtures/btf/linux-{version}.btf.xz",
        env!("CARGO_MANIFEST_DIR")
    );
    let compressed = std::fs::read(path).expect("fixture");
    let mut raw = Vec::new();
    lzma_rs::xz_decompress(&mut compressed.as_slice(), &mut raw).expect("xz fixture");
    let needle: Vec<u8> = [b"\0", name.as_bytes(), b"\0"].concat();
    let mut renamed = 0;
    let mut at = 0;
    while let Some(found) = raw[at..].windows(needle.len()).position(|w| w == needle) {
        let last = at + found + needle.len() - 2;
        raw[last] = b'X';
        renamed += 1;
        at = last;
    }
    assert!(renamed > 0, "Linux {version}'s BTF has the string {name}");
    Btf::from_bytes(raw).expect("renamed BTF reads")
}

#[test]
fn a_kernel_without_the_parent_pointer_gets_e0107_for_path_and_keeps_the_other_columns() {
    let mut out = String::new();
    for (version, member) in [("6.12", "parent"), ("6.18", "__parent")] {
        let btf = fixture_without(version, member);
        let error = bind_one(&btf, "from cgroup select path").expect_err("no parent pointer");
        assert!(error.starts_with("E0107"), "Linux {version}: {error}");
        bind_one(&btf, "from cgroup select id, name, level")
            .unwrap_or_else(|e| panic!("Linux {version}: {e}"));
        out.push_str(&format!("## Linux {version} without `{member}`\n{error}\n"));
    }
    insta::assert_snapshot!(out);
}
