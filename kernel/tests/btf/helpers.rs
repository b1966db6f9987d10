//! Helper ids: every constant in `helpers` equals the kernel's `BPF_FUNC_<name>` enumerator in each BTF fixture.

use crate::common;

use bpfq_kernel::{helpers, BtfType, Kind};

/// Every helper is present with our number, except that an older kernel may lack helpers
/// numbered above its highest `BPF_FUNC_*` (they were added later).
#[test]
fn helper_ids_match_enum_bpf_func_id() {
    for version in common::VERSIONS {
        let btf = common::fixture(version);
        let id = btf
            .find(Kind::Enum, "bpf_func_id")
            .expect("enum bpf_func_id in BTF");
        let BtfType::Enum { values, .. } = btf.get(id).unwrap() else {
            panic!("not an enum")
        };
        let highest = values
            .iter()
            .filter(|(name, _)| name.starts_with("BPF_FUNC_"))
            .map(|&(_, v)| v)
            .max()
            .unwrap();
        for (name, number) in helpers::ALL {
            let enumerator = format!("BPF_FUNC_{name}");
            let value = values
                .iter()
                .find(|(value_name, _)| *value_name == enumerator)
                .map(|&(_, value)| value);
            match value {
                Some(value) => {
                    assert_eq!(value, i64::from(*number), "{enumerator} on linux {version}")
                }
                None => assert!(
                    i64::from(*number) > highest && version != "6.18",
                    "{enumerator} missing on linux {version}"
                ),
            }
        }
    }
}

#[test]
fn helper_list_names_each_constant_once() {
    let mut numbers: Vec<u32> = helpers::ALL.iter().map(|&(_, number)| number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), helpers::ALL.len());
    assert!(helpers::ALL.contains(&("seq_write", helpers::SEQ_WRITE)));
}
