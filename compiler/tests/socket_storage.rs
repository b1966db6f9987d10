//! Tests of `bpf_sk_storage_map` rows through socket iterators against the Linux 6.18 BTF
//! fixture, with a map shape given by the test and features built by hand: the plan chooses the
//! tcp and udp programs exactly when `map_elem_programs` is false, with the map-element
//! program's row layout and kernel part; golden plan and tcp program (IR and BPF listing); the
//! map's fd is a relocation of `MapRef::SkStorage`; E0304 for a read of `map` and for text output.

mod common;

use bpfq_compiler::bind::BindEnv;
use bpfq_compiler::bpf::disasm::disassemble;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::ir::MapRef as IrMap;
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::maps::{MapLookup, MapLookupError, MapRef, MapShape};
use bpfq_compiler::pipeline::{compile, compile_text, Compiled, StageTimes};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::{Btf, KernelFeatures, Why};
use std::collections::HashMap;

struct StorageMap;

impl MapLookup for StorageMap {
    fn lookup(&self, map: &MapRef) -> Result<MapShape, MapLookupError> {
        match map {
            MapRef::Name(name) if name == "storage" => Ok(MapShape {
                map_type: 24,
                key_size: 4,
                value_size: 8,
                name: name.clone(),
                id: 42,
                possible_cpus: 4,
            }),
            _ => Err(MapLookupError::NotFound { near: vec![] }),
        }
    }
}

fn compiled_as(
    btf: &Btf,
    query: &str,
    map_elem_programs: bool,
    text: bool,
) -> Result<Compiled, String> {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
    let params = HashMap::new();
    let mut features = KernelFeatures::from_btf(btf).expect("features of the BTF");
    features.map_elem_programs = map_elem_programs;
    features.why.map_elem_programs = Why::Given("the test");
    let env = BindEnv {
        btf,
        stdlib: &stdlib,
        sources: &sources,
        params: &params,
        maps: Some(&StorageMap),
        features: &features,
    };
    let result = if text {
        compile_text(file, &env, &mut StageTimes::default())
    } else {
        compile(file, &env)
    };
    result.map_err(|diag| diag.render(&sources))
}

const QUERIES: [&str; 3] = [
    "from bpf_sk_storage_map(map = \"storage\")",
    "from bpf_sk_storage_map(map = \"storage\") select value, protocol, sport, inode where value > 3",
    "from bpf_sk_storage_map(map = \"storage\") select sport, count(*) group by sport",
];

fn helper_name(id: i32) -> Option<String> {
    bpfq_kernel::helpers::ALL
        .iter()
        .find(|(_, known)| i64::from(*known) == i64::from(id))
        .map(|(name, _)| format!("bpf_{name}"))
}

#[test]
fn socket_programs_exactly_when_the_kernel_refuses_map_element_programs() {
    let btf = common::fixture("6.18");
    for query in QUERIES {
        let allowed = compiled_as(&btf, query, true, false).expect(query);
        let refused = compiled_as(&btf, query, false, false).expect(query);
        assert_eq!(allowed.plan.rows_from, RowsFrom::Program, "{query}");
        assert!(allowed.socket_programs.is_empty(), "{query}");
        assert!(!allowed.program.insns.is_empty(), "{query}");
        let RowsFrom::SocketIterators(sockets) = &refused.plan.rows_from else {
            panic!("{query}: {:?}", refused.plan.rows_from);
        };
        assert!(sockets.why.contains("given: the test"), "{}", sockets.why);
        assert!(
            refused.program.insns.is_empty(),
            "{query}: no bpf_sk_storage_map program"
        );
        let names: Vec<&str> = refused
            .socket_programs
            .iter()
            .map(|p| p.target.name.as_str())
            .collect();
        assert_eq!(names, ["tcp", "udp", "unix", "netlink"], "{query}");
        for socket in &refused.socket_programs {
            // The map is a relocation, patched with the real fd at run time; unix writes its
            // rows to a ring buffer (its seq output loses objects), tcp and udp to the seq file.
            let maps: Vec<IrMap> = socket.program.relocations.iter().map(|r| r.map).collect();
            let ring = socket.target.name == "unix";
            assert_eq!(
                maps.iter().filter(|m| **m == IrMap::SkStorage).count(),
                1,
                "{query}"
            );
            assert_eq!(maps.contains(&IrMap::RowRing), ring, "{query}: {maps:?}");
        }
        // The same rows: columns, types and offsets of the map-element program's row.
        assert_eq!(refused.layout, allowed.layout, "{query}");
        assert_eq!(refused.plan.kernel, allowed.plan.kernel, "{query}");
        assert_eq!(refused.plan.user, allowed.plan.user, "{query}");
    }
    // A grouped query groups in user space (the rows come from several programs).
    let grouped = compiled_as(&btf, QUERIES[2], false, false).expect("grouped");
    assert!(
        grouped
            .plan
            .describe()
            .contains("several socket iterator programs"),
        "{}",
        grouped.plan.describe()
    );
}

#[test]
fn golden_plan_and_tcp_program() {
    let btf = common::fixture("6.18");
    let c = compiled_as(&btf, QUERIES[1], false, false).expect("compiles");
    let tcp = &c.socket_programs[0];
    insta::assert_snapshot!(format!(
        "{}\n== program {} ({})\n{}\n== BPF\n{}",
        c.plan.describe(),
        tcp.target.name,
        tcp.prog_name,
        tcp.ir,
        disassemble(&tcp.program, &helper_name)
    ));
}

#[test]
fn reading_the_map_or_pinning_is_e0304() {
    let btf = common::fixture("6.18");
    let map = compiled_as(
        &btf,
        "from bpf_sk_storage_map(map = \"storage\") select sport, map.id",
        false,
        false,
    )
    .expect_err("map needs the map-element program");
    assert!(
        map.contains("error[E0304]") && map.contains("map.id"),
        "{map}"
    );
    // The same query compiles where the kernel allows the program.
    compiled_as(
        &btf,
        "from bpf_sk_storage_map(map = \"storage\") select sport, map.id",
        true,
        false,
    )
    .expect("the map-element program reads the map");
    let pin = compiled_as(&btf, QUERIES[0], false, true).expect_err("no program to pin");
    assert!(
        pin.contains("error[E0304]") && pin.contains("no bpf_sk_storage_map program to pin"),
        "{pin}"
    );
}
