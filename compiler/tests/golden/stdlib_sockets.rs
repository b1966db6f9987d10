//! Stdlib check (stages stdlib + bind) for the socket targets tcp, udp, unix and netlink: every
//! column binds against the BTF of each fixture kernel that offers the target, and its type is
//! snapshotted per kernel, so a kernel change that breaks a column shows up here.

use crate::common;

use bpfq_compiler::syntax::parse_query;
use bpfq_kernel::Btf;
use common::{fixture, with_env, VERSIONS};

const TARGETS: [&str; 4] = ["tcp", "udp", "unix", "netlink"];

/// (kernel, target) pairs the kernel does not offer: iter/unix arrived in Linux 5.15.
const MISSING: [(&str, &str); 1] = [("5.10", "unix")];

/// Every fixture kernel's BTF, oldest first.
fn fixtures() -> Vec<(&'static str, &'static Btf)> {
    VERSIONS
        .iter()
        .map(|version| (*version, fixture(version)))
        .collect()
}

/// `name type` lines of the stdlib columns of `target`, or the binder's message for a column
/// that does not fit this kernel.
fn column_listing(btf: &Btf, target: &str) -> String {
    with_env(btf, "", |_, env| {
        env.columns(target)
            .into_iter()
            .map(|c| {
                format!(
                    "{:<12} {}\n",
                    c.name,
                    c.ty.unwrap_or_else(|e| format!("unavailable: {e}"))
                )
            })
            .collect()
    })
}

/// The typed query of `query` as the binder prints it, or its rendered diagnostic.
fn bound(btf: &Btf, query: &str) -> String {
    with_env(btf, query, |file, env| {
        match parse_query(env.sources().text(file), file).and_then(|q| env.bind(&q)) {
            Ok(typed) => typed.to_string(),
            Err(diag) => diag.render(env.sources()),
        }
    })
}

fn offers(btf: &Btf, target: &str) -> bool {
    matches!(
        bpfq_kernel::catalogue::find_target(btf, target),
        Ok(Some(_))
    )
}

#[test]
fn socket_columns_bind_on_every_fixture_kernel() {
    for target in TARGETS {
        let mut all = String::new();
        for (version, btf) in fixtures() {
            let expected_missing = MISSING.contains(&(version, target));
            assert_eq!(
                offers(btf, target),
                !expected_missing,
                "Linux {version} offering `{target}` disagrees with the MISSING list"
            );
            if expected_missing {
                all.push_str(&format!("## Linux {version}\n(no iter/{target})\n"));
                continue;
            }
            let text = column_listing(btf, target);
            assert!(!text.is_empty(), "{target} has stdlib columns");
            // Columns that read `struct sock` through a pointer cast bind on every kernel: with
            // the bpf_rdonly_cast kfunc (Linux 6.2+), else read with bpf_probe_read_kernel.
            assert!(
                !text.contains("unavailable"),
                "{target} on Linux {version}:\n{text}"
            );
            all.push_str(&format!("## Linux {version}\n{text}"));
        }
        insta::assert_snapshot!(format!("stdlib_{target}_columns"), all);
    }
}

/// The inode columns have two alternatives: `sk_ino` (a member of struct sock since Linux 6.18)
/// and the inode of the struct socket_alloc around the struct socket. The bound expressions show
/// which one each kernel gets: a pointer cast and two loads before 6.18 (read with probes before
/// 6.2, which has no bpf_rdonly_cast), a plain load after.
#[test]
fn inode_columns_pick_the_alternative_each_kernel_has() {
    let mut all = String::new();
    for (version, btf) in fixtures() {
        all.push_str(&format!("## Linux {version}\n"));
        for query in [
            "from udp select inode",
            "from netlink select inode",
            "from unix select inode, peer",
        ] {
            if version == "5.10" && query.contains("unix") {
                continue;
            }
            all.push_str(&bound(btf, query));
            all.push('\n');
        }
    }
    insta::assert_snapshot!(all);
}

#[test]
fn select_star_binds_the_defaults_on_linux_6_18() {
    let (_, btf) = *fixtures().last().expect("6.18 is the last fixture");
    for target in TARGETS {
        let text = format!("from {target} select *");
        let (names, defaults) = with_env(btf, &text, |file, env| {
            let query = parse_query(env.sources().text(file), file).expect("query parses");
            let typed = env
                .bind(&query)
                .unwrap_or_else(|d| panic!("`{text}` does not bind:\n{}", d.render(env.sources())));
            let names: Vec<String> = typed.columns.iter().map(|c| c.name.clone()).collect();
            let defaults: Vec<String> = env
                .stdlib()
                .defaults(target)
                .expect("defaults declared")
                .iter()
                .map(|ident| ident.name.clone())
                .collect();
            (names, defaults)
        });
        assert_eq!(names, defaults, "`select *` on {target}");
    }
}
