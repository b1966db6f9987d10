//! Tests of `bpf_sk_storage_map` and `sockmap` rows through socket iterators against the Linux
//! 6.18 (and 5.10) BTF fixtures, with map shapes given by the test and features built by hand:
//! the plan chooses the socket programs exactly when `map_elem_programs` is false, with the
//! map-element program's row layout and kernel part; golden plans and tcp programs (IR and BPF
//! listing); the map's fd is a relocation of `MapRef::SkStorage` (sk_storage) or
//! `MapRef::SocketKeys` (sockmap: the cookie -> key map); E0304 for a read of `map` and for text
//! output; E0305 for a sockmap of 4-byte values.

use crate::common;

use bpfq_compiler::bpf::disasm::disassemble;
use bpfq_compiler::ir::MapRef as IrMap;
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::pipeline::Compiled;
use bpfq_kernel::Btf;

/// An sk_storage map, sockmaps of 8- and 4-byte values, a sockhash of 12-byte keys.
const STORAGE_MAPS: common::maps::Maps = common::maps::Maps(&[
    ("storage", 24, 4, 8),
    ("sockets", 15, 4, 8),
    ("narrow", 15, 4, 4),
    ("hashed", 18, 12, 8),
]);

/// `query` compiled with `STORAGE_MAPS` for a kernel that allows map-element programs or not.
fn compiled_as(
    btf: &Btf,
    query: &str,
    map_elem_programs: bool,
    text: bool,
) -> Result<Compiled, String> {
    common::maps::compiled_as(btf, &STORAGE_MAPS, query, map_elem_programs, text)
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

/// `query` plans its own program where the kernel allows map-element programs, and else one
/// program per iterator of `iterators`, each reading `map` once, with the same rows.
fn assert_socket_programs(btf: &Btf, query: &str, iterators: &[&str], map: IrMap) {
    let allowed = compiled_as(btf, query, true, false).expect(query);
    let refused = compiled_as(btf, query, false, false).expect(query);
    assert_eq!(allowed.plan.rows_from, RowsFrom::Program, "{query}");
    assert!(allowed.socket_programs.is_empty(), "{query}");
    assert!(!allowed.program.insns.is_empty(), "{query}");
    let RowsFrom::SocketIterators(sockets) = &refused.plan.rows_from else {
        panic!("{query}: {:?}", refused.plan.rows_from);
    };
    assert!(sockets.why.contains("given: the test"), "{}", sockets.why);
    assert!(
        refused.program.insns.is_empty(),
        "{query}: no map-element program"
    );
    let names: Vec<&str> = refused
        .socket_programs
        .iter()
        .map(|p| p.target.name.as_str())
        .collect();
    assert_eq!(names, iterators, "{query}");
    for socket in &refused.socket_programs {
        // The map is a relocation, patched with the real fd at run time; unix writes its
        // rows to a ring buffer (its seq output loses objects), tcp and udp to the seq file.
        let maps: Vec<IrMap> = socket.program.relocations.iter().map(|r| r.map).collect();
        let ring = socket.target.name == "unix";
        assert_eq!(
            maps.iter().filter(|m| **m == map).count(),
            1,
            "{query}: {maps:?}"
        );
        assert_eq!(maps.contains(&IrMap::RowRing), ring, "{query}: {maps:?}");
    }
    // The same rows: columns, types and offsets of the map-element program's row.
    assert_eq!(refused.plan.layout, allowed.plan.layout, "{query}");
    assert_eq!(refused.plan.kernel, allowed.plan.kernel, "{query}");
    assert_eq!(refused.plan.user, allowed.plan.user, "{query}");
}

#[test]
fn socket_programs_exactly_when_the_kernel_refuses_map_element_programs() {
    let btf = common::fixture("6.18");
    for query in QUERIES {
        assert_socket_programs(
            btf,
            query,
            &["tcp", "udp", "unix", "netlink"],
            IrMap::SkStorage,
        );
    }
    // A grouped query groups in user space (the rows come from several programs).
    let grouped = compiled_as(btf, QUERIES[2], false, false).expect("grouped");
    assert!(
        grouped
            .plan
            .describe()
            .contains("several socket iterator programs"),
        "{}",
        grouped.plan.describe()
    );
}

const SOCKMAP_QUERIES: [&str; 4] = [
    "from sockmap(map = \"sockets\")",
    "from sockmap(map = \"sockets\") select key, protocol, sport, src6, inode where key > 3",
    "from sockmap(map = \"sockets\") select family, count(*) group by family",
    "from sockmap(map = \"hashed\") select key, sport, dport",
];

/// A sockmap's sockets are found by cookie through the tcp, udp and unix iterators (a sockmap
/// holds no netlink socket), on the newest and the oldest kernel of the matrix (5.10 has no unix
/// iterator, and its sockmaps hold no unix sockets).
#[test]
fn sockmap_sockets_by_cookie_exactly_when_the_kernel_refuses_map_element_programs() {
    for (version, iterators) in [
        ("6.18", &["tcp", "udp", "unix"][..]),
        ("5.10", &["tcp", "udp"][..]),
    ] {
        let btf = common::fixture(version);
        for query in SOCKMAP_QUERIES {
            assert_socket_programs(btf, query, iterators, IrMap::SocketKeys);
        }
    }
}

/// The plan and the tcp program of `query` on the 6.18 fixture, where map-element programs are
/// refused.
fn plan_and_tcp_program(query: &str) -> String {
    let btf = common::fixture("6.18");
    let c = compiled_as(btf, query, false, false).expect("compiles");
    let tcp = &c.socket_programs[0];
    format!(
        "{}\n== program {} ({})\n{}\n== BPF\n{}",
        c.plan.describe(),
        tcp.target.name,
        tcp.prog_name,
        tcp.ir,
        disassemble(&tcp.program, &helper_name)
    )
}

#[test]
fn golden_plan_and_tcp_program() {
    insta::assert_snapshot!(plan_and_tcp_program(QUERIES[1]));
}

#[test]
fn golden_sockmap_plan_and_tcp_program() {
    insta::assert_snapshot!(plan_and_tcp_program(SOCKMAP_QUERIES[1]));
}

/// A sockmap of 4-byte values gives user space no cookies: E0305 where the kernel refuses the
/// sockmap program; the same query compiles where it allows it.
#[test]
fn sockmap_of_four_byte_values_is_e0305() {
    let btf = common::fixture("6.18");
    let query = "from sockmap(map = \"narrow\") select key, sport";
    let refused = compiled_as(btf, query, false, false).expect_err("no cookies");
    insta::assert_snapshot!(refused);
    compiled_as(btf, query, true, false).expect("the sockmap program reads the sockets");
}

#[test]
fn reading_the_map_or_pinning_is_e0304() {
    let btf = common::fixture("6.18");
    let map = compiled_as(
        btf,
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
        btf,
        "from bpf_sk_storage_map(map = \"storage\") select sport, map.id",
        true,
        false,
    )
    .expect("the map-element program reads the map");
    let pin = compiled_as(btf, QUERIES[0], false, true).expect_err("no program to pin");
    assert!(
        pin.contains("error[E0304]") && pin.contains("no bpf_sk_storage_map program to pin"),
        "{pin}"
    );
    let map = compiled_as(
        btf,
        "from sockmap(map = \"sockets\") select key, map.max_entries",
        false,
        false,
    )
    .expect_err("map needs the sockmap program");
    assert!(
        map.contains("error[E0304]") && map.contains("only the socket and its key"),
        "{map}"
    );
    let pin = compiled_as(btf, SOCKMAP_QUERIES[0], false, true).expect_err("no program to pin");
    assert!(
        pin.contains("error[E0304]") && pin.contains("no sockmap program to pin"),
        "{pin}"
    );
}
