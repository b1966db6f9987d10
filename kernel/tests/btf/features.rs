//! Kernel features from BTF: each fixture gives exactly the facts its release has, the one-pass
//! walk agrees with separate lookups of every marker, and malformed BTF is an error or the
//! older variants, never a newer one.

use crate::common;

use bpfq_kernel::{Btf, BtfType, KernelFeatures, Kind, Why};

/// (version, cpu_v4, rdonly_cast, d_path_in_iter, memlock_charged), as measured on each kernel.
const EXPECTED: [(&str, bool, bool, bool, bool); 4] = [
    ("5.10", false, false, false, true),
    ("6.1", false, false, true, false),
    ("6.12", true, true, true, false),
    ("6.18", true, true, true, false),
];

fn features(version: &str) -> KernelFeatures {
    KernelFeatures::from_btf(common::fixture(version)).expect("features of a fixture")
}

#[test]
fn each_fixture_has_the_features_of_its_release() {
    for (version, cpu_v4, rdonly_cast, d_path_in_iter, memlock_charged) in EXPECTED {
        let f = features(version);
        let got = (f.cpu_v4, f.rdonly_cast, f.d_path_in_iter, f.memlock_charged);
        assert_eq!(
            got,
            (cpu_v4, rdonly_cast, d_path_in_iter, memlock_charged),
            "linux {version}: (cpu_v4, rdonly_cast, d_path_in_iter, memlock_charged)"
        );
        assert!(f.ringbuf && f.probe_read_kernel, "linux {version}: {f:?}");
        // Task iterator link parameters: 6.1+ (a 5.10 guest refuses them with E2BIG).
        assert_eq!(f.task_iter_params, version != "5.10", "linux {version}");
        assert!(f.map_elem_programs && f.vma_file_path_trusted);
    }
}

/// The whole record with its reasons, as `explain` and `doctor` print them.
#[test]
fn facts_and_reasons_of_every_fixture() {
    let mut out = String::new();
    for version in common::VERSIONS {
        out += &format!("linux {version}\n");
        for fact in features(version).facts() {
            let holds = if fact.holds { "yes" } else { "no " };
            out += &format!("  {:<22} {holds} {}\n", fact.name, fact.why);
        }
    }
    insta::assert_snapshot!(out);
}

/// Whether enum `enum_name` of `btf` has an enumerator `name`, by decoding the enum.
fn has_enumerator(btf: &Btf, enum_name: &str, name: &str) -> bool {
    let Some(id) = btf.find(Kind::Enum, enum_name) else {
        return false;
    };
    match btf.get(id).expect("enum decodes") {
        BtfType::Enum { values, .. } => values.iter().any(|(n, _)| *n == name),
        _ => false,
    }
}

/// The walk's reading of enumerators in place gives what separate, decoding lookups give, and
/// its 6.2 marker stands for the kfunc exactly where the FUNC is in the BTF.
#[test]
fn one_walk_agrees_with_separate_lookups() {
    for version in common::VERSIONS {
        // A fresh Btf: the walk must work on an index it builds itself.
        let btf = Btf::from_file(&common::fixture_path(version)).expect("fixture");
        let f = KernelFeatures::from_btf(&btf).expect("features");
        let helper = |name: &str| has_enumerator(&btf, "bpf_func_id", name);
        assert_eq!(
            f.rdonly_cast,
            btf.find(Kind::Func, "bpf_rdonly_cast").is_some(),
            "{version}"
        );
        assert_eq!(
            f.cpu_v4,
            has_enumerator(&btf, "bpf_link_type", "BPF_LINK_TYPE_TCX"),
            "{version}"
        );
        assert_eq!(f.ringbuf, helper("BPF_FUNC_ringbuf_output"), "{version}");
        assert_eq!(
            f.probe_read_kernel,
            helper("BPF_FUNC_probe_read_kernel"),
            "{version}"
        );
        assert_eq!(
            f.d_path_in_iter,
            helper("BPF_FUNC_d_path") && helper("BPF_FUNC_for_each_map_elem"),
            "{version}"
        );
        assert_eq!(
            f.memlock_charged,
            !helper("BPF_FUNC_task_storage_get"),
            "{version}"
        );
        assert_eq!(
            f.task_iter_params,
            helper("BPF_FUNC_user_ringbuf_drain"),
            "{version}"
        );
        // Computed twice, on an index that is now complete, it is the same record.
        assert_eq!(KernelFeatures::from_btf(&btf).expect("again"), f);
    }
}

fn le32(bytes: &[u8], pos: usize) -> usize {
    u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize
}

/// Where the first type record starting at or after `min` bytes into the type section of the
/// raw BTF `bytes` begins (record lengths from kind and vlen, as the kernel's BTF format says).
fn record_boundary(bytes: &[u8], min: usize) -> usize {
    let types_start = le32(bytes, 4) + le32(bytes, 8);
    let mut pos = types_start;
    while pos < types_start + min {
        let info = le32(bytes, pos + 4);
        let vlen = info & 0xffff;
        pos += 12
            + match (info >> 24) & 0x1f {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen,
                6 | 13 => 8 * vlen,
                _ => 0,
            };
    }
    pos
}

/// A malformed record before the markers: an error, never a guess.
#[test]
fn malformed_btf_before_the_markers_is_an_error() {
    let mut bytes = common::fixture("6.18").bytes().to_vec();
    let at = record_boundary(&bytes, 1000);
    // Kind 31 does not exist.
    bytes[at + 7] = 31;
    let btf = Btf::from_bytes(bytes).expect("header still valid");
    if let Ok(f) = KernelFeatures::from_btf(&btf) {
        panic!("features from broken BTF: {f:?}");
    }
}

/// Well-formed BTF without any marker (the first records of vmlinux only): every fact takes
/// its older variant, and says which marker it missed.
#[test]
fn btf_without_markers_gives_the_older_variants() {
    let full = common::fixture("6.18").bytes();
    let (header_len, types_start) = (le32(full, 4), le32(full, 4) + le32(full, 8));
    let strings_start = header_len + le32(full, 16);
    let strings = &full[strings_start..strings_start + le32(full, 20)];
    let end = record_boundary(full, 1000);
    let mut bytes = full[..header_len].to_vec();
    let types_len = (end - types_start) as u32;
    bytes[8..12].copy_from_slice(&0u32.to_le_bytes());
    bytes[12..16].copy_from_slice(&types_len.to_le_bytes());
    bytes[16..20].copy_from_slice(&types_len.to_le_bytes());
    bytes.extend_from_slice(&full[types_start..end]);
    bytes.extend_from_slice(strings);
    let btf = Btf::from_bytes(bytes).expect("small BTF opens");
    let f = KernelFeatures::from_btf(&btf).expect("well-formed");
    for fact in f.facts() {
        let assumed = matches!(fact.why, Why::Assumed(_));
        assert_eq!(
            fact.holds,
            assumed || fact.name == "memlock_charged",
            "{fact:?}"
        );
        assert!(
            assumed || matches!(fact.why, Why::Missing { .. }),
            "{fact:?}"
        );
    }
}

/// Reasons read as the explain line prints them.
#[test]
fn reasons_name_the_marker_and_release() {
    let old = features("5.10");
    assert_eq!(
        old.why.cpu_v4.to_string(),
        "no Linux 6.6 marker in BTF (BPF_LINK_TYPE_TCX)"
    );
    assert_eq!(
        old.why.rdonly_cast,
        Why::Missing {
            marker: "BPF_FUNC_cgrp_storage_get",
            since: "6.2"
        }
    );
    let new = features("6.18");
    assert_eq!(
        new.why.rdonly_cast.to_string(),
        "BTF has BPF_FUNC_cgrp_storage_get (Linux 6.2)"
    );
}

/// `set` reaches every fact `facts` lists, by the same name, and no other.
#[test]
fn every_listed_fact_can_be_set_by_its_name() {
    let mut f = features("6.18");
    let names: Vec<&str> = f.facts().iter().map(|fact| fact.name).collect();
    for name in names {
        let before = f
            .facts()
            .into_iter()
            .find(|fact| fact.name == name)
            .unwrap();
        assert!(f.set(name, !before.holds, Why::Given("the test")), "{name}");
        let after = f
            .facts()
            .into_iter()
            .find(|fact| fact.name == name)
            .unwrap();
        assert_eq!(
            (after.holds, after.why),
            (!before.holds, Why::Given("the test")),
            "{name}"
        );
    }
    assert!(!f.set("no_such_fact", true, Why::Given("the test")));
}
