//! Stdlib stage check for the map-element targets (`bpf_map_elem`, `bpf_sk_storage_map`,
//! `sockmap`): every column binds against the BTF of each fixture kernel (key and value are
//! typed by the map a query names, so `describe` shows them as such), and the `name type`
//! listing per kernel is snapshotted.

use crate::common;

use common::fixture;

const KERNELS: [&str; 4] = ["5.10", "6.1", "6.12", "6.18"];
const TARGETS: [&str; 3] = ["bpf_map_elem", "bpf_sk_storage_map", "sockmap"];

#[test]
fn stdlib_map_element_columns_bind_on_every_fixture_kernel() {
    let mut all = String::new();
    for version in KERNELS {
        let btf = fixture(version);
        for target in TARGETS {
            all.push_str(&format!("## Linux {version} {target}\n"));
            let columns = common::stdlib_columns(btf, target);
            assert!(!columns.is_empty(), "{target} has stdlib columns");
            for column in columns {
                let ty = column.ty.unwrap_or_else(|e| format!("unavailable: {e}"));
                // Before Linux 6.2 (no bpf_rdonly_cast) a socket's inode is read with probes.
                assert!(
                    !ty.starts_with("unavailable"),
                    "Linux {version} {target}.{}: {ty}",
                    column.name
                );
                all.push_str(&format!("{:<9} {ty}\n", column.name));
            }
        }
    }
    insta::assert_snapshot!(all);
}
