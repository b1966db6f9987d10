//! Tests of the user-space map walk of `bpf_map_elem` against the Linux 6.18 BTF fixture, with
//! map shapes given by the test and features built by hand: the plan reads the map from user
//! space exactly when `map_elem_programs` is false (and only for `bpf_map_elem`), with the row
//! layout the program would write; golden plans; E0304 for what needs a program and for text
//! output; and the evaluator's rows for hand-made elements (widths, signs, division, text).

use crate::common;

use bpfq_compiler::layout::{ColumnKind, RowLayout};
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::map_walk_eval::{Element, Evaluator};
use bpfq_compiler::pipeline::Compiled;
use bpfq_kernel::Btf;

/// The maps these queries name.
const TEST_MAPS: common::maps::Maps = common::maps::Maps(&[
    ("counts", 1, 4, 8),
    ("small", 1, 4, 1),
    ("flows", 1, 16, 24),
    ("percpu", 6, 4, 4),
    ("socks", 15, 4, 8),
    ("storage", 24, 4, 8),
]);

/// `query` compiled with `TEST_MAPS` for a kernel that allows map-element programs or not.
fn compiled_as(
    btf: &Btf,
    query: &str,
    map_elem_programs: bool,
    text: bool,
) -> Result<Compiled, String> {
    common::maps::compiled_as(btf, &TEST_MAPS, query, map_elem_programs, text)
}

fn walked(btf: &Btf, query: &str) -> Compiled {
    compiled_as(btf, query, false, false).unwrap_or_else(|e| panic!("{query}: {e}"))
}

const QUERIES: [&str; 8] = [
    "from bpf_map_elem(map = \"counts\")",
    "from bpf_map_elem(map = \"counts\") select key, value, map_id, map_name where value == 3",
    "from bpf_map_elem(map = \"flows\") select key, value, map_name",
    "from bpf_map_elem(map = \"percpu\") select key, value where value > 2 or key in (1, 2)",
    "from bpf_map_elem(map = \"counts\") select key, count(*) group by key order by key limit 2",
    "from sockmap(map = \"socks\") select key, sport",
    "from bpf_sk_storage_map(map = \"storage\") select value, sport",
    "from task select pid",
];

#[test]
fn the_plan_walks_the_map_exactly_when_the_kernel_refuses_map_element_programs() {
    let btf = common::fixture("6.18");
    for query in QUERIES {
        let allowed = compiled_as(btf, query, true, false).expect(query);
        let refused = compiled_as(btf, query, false, false).expect(query);
        assert_eq!(allowed.plan.rows_from, RowsFrom::Program, "{query}");
        assert!(!allowed.program.insns.is_empty(), "{query}");
        let map_elem = query.starts_with("from bpf_map_elem");
        match &refused.plan.rows_from {
            RowsFrom::MapWalk(walk) => {
                assert!(map_elem, "{query} walks a map");
                assert!(refused.program.insns.is_empty(), "{query}: no program");
                assert!(walk.why.contains("given: the test"), "{}", walk.why);
            }
            RowsFrom::SocketIterators(sockets) => {
                // socket_storage.rs checks these programs.
                let names = match query.starts_with("from sockmap") {
                    true => "tcp, udp and unix",
                    false => "tcp, udp, unix and netlink",
                };
                assert!(!map_elem, "{query}");
                assert_eq!(sockets.names(), names, "{query}");
                assert_eq!(
                    refused.socket_programs.len(),
                    sockets.iterators.len(),
                    "{query}"
                );
            }
            RowsFrom::Program => {
                assert!(!map_elem, "{query} needs no program");
                assert_eq!(refused.program, allowed.program, "{query}");
            }
        }
        // The same rows: columns, types and offsets of the program's row.
        assert_eq!(refused.plan.layout, allowed.plan.layout, "{query}");
        assert_eq!(refused.plan.user, allowed.plan.user, "{query}");
        assert_eq!(refused.plan.kernel, allowed.plan.kernel, "{query}");
    }
}

#[test]
fn explain_says_the_rows_come_from_a_user_space_map_walk() {
    let btf = common::fixture("6.18");
    let mut text = String::new();
    for query in [QUERIES[1], QUERIES[4]] {
        let c = walked(btf, query);
        text.push_str(&format!(
            "### {query}\n{}layout: {}\n",
            c.plan.describe(),
            describe_layout(&c.plan.layout)
        ));
    }
    insta::assert_snapshot!(text);
}

fn describe_layout(layout: &RowLayout) -> String {
    let columns: Vec<String> = layout
        .columns
        .iter()
        .map(|c| format!("{} @{} {:?}", c.name, c.offset, c.kind))
        .collect();
    format!("{} bytes: {}", layout.size, columns.join("; "))
}

#[test]
fn what_needs_a_program_is_e0304() {
    let btf = common::fixture("6.18");
    let cases = [
        (
            "from bpf_map_elem(map = \"counts\") select key, map.max_entries",
            false,
        ),
        ("from bpf_map_elem(map = \"counts\") select map", false),
        (
            "from bpf_map_elem(map = \"counts\") select key where map.btf.id == 1",
            false,
        ),
        (
            "from bpf_map_elem(map = \"counts\") select key, value",
            true,
        ),
    ];
    let mut rendered = String::new();
    for (query, text) in cases {
        let err = match compiled_as(btf, query, false, text) {
            Ok(_) => panic!("{query} compiled"),
            Err(err) => err,
        };
        assert!(err.contains("error[E0304]"), "{query}\n{err}");
        rendered.push_str(&format!(
            "### {query}{}\n{err}\n",
            if text { " (pin)" } else { "" }
        ));
        // With programs allowed, the same queries compile.
        compiled_as(btf, query, true, text).unwrap_or_else(|e| panic!("{query}: {e}"));
    }
    assert!(bpfq_compiler::codes::explain("E0304").is_some());
    insta::assert_snapshot!(rendered);
}

/// Each cell of `row` as text: integers in decimal, booleans, text up to its NUL, bytes in hex.
fn cells(layout: &RowLayout, row: &[u8]) -> Vec<String> {
    layout
        .columns
        .iter()
        .map(|c| {
            let bytes = &row[c.offset as usize..(c.offset + c.kind.width()) as usize];
            match &c.kind {
                ColumnKind::Int { bytes: n, signed } => {
                    let mut word = [0u8; 8];
                    word[..*n as usize].copy_from_slice(bytes);
                    let raw = u64::from_le_bytes(word);
                    if *signed {
                        let shift = 64 - 8 * u32::from(*n);
                        (((raw << shift) as i64) >> shift).to_string()
                    } else {
                        raw.to_string()
                    }
                }
                ColumnKind::Bool => (bytes[0] != 0).to_string(),
                ColumnKind::Chars { .. } => {
                    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
                    String::from_utf8_lossy(&bytes[..end]).into_owned()
                }
                ColumnKind::Bytes { .. } => bytes.iter().map(|b| format!("{b:02x}")).collect(),
                other => format!("{other:?}"),
            }
        })
        .collect()
}

/// The rows `query` (walked) makes of `elements` (key, value bytes), filtered rows left out.
fn rows_of(btf: &Btf, query: &str, elements: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<String>> {
    let c = walked(btf, query);
    let RowsFrom::MapWalk(walk) = &c.plan.rows_from else {
        panic!("{query} is not walked");
    };
    let evaluator = Evaluator::new(&c.plan, walk, &c.plan.layout, &walk.map.shape);
    let mut row = vec![0u8; c.plan.layout.size as usize];
    elements
        .iter()
        .filter_map(|(key, value)| {
            let element = Element { key, value };
            let passed = evaluator.row(&element, &mut row).expect(query);
            passed.then(|| cells(&c.plan.layout, &row))
        })
        .collect()
}

fn le(value: u64, bytes: usize) -> Vec<u8> {
    value.to_le_bytes()[..bytes].to_vec()
}

#[test]
fn the_evaluator_computes_what_the_program_would() {
    let btf = common::fixture("6.18");
    let counts = |k: u64, v: u64| (le(k, 4), le(v, 8));
    let elements = [
        counts(1, 0x0100_0000_0000_002a),
        counts(7, 3),
        counts(0xffff_ffff, 0xff),
        counts(9, 0x7f),
    ];
    let q = |tail: &str| format!("from bpf_map_elem(map = \"counts\") {tail}");
    let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let cases: Vec<(String, Vec<Vec<String>>)> = vec![
        (
            q("select key, value, map_id, map_name where value == 3"),
            vec![row(&["7", "3", "42", "counts"])],
        ),
        // A negative literal against a u32 key is taken at 32 bits, as in the program.
        (q("select key where key == -1"), vec![row(&["4294967295"])]),
        (
            q("select cast(value as s8) as v where cast(value as s8) < 0"),
            vec![row(&["-1"])],
        ),
        (
            q("select value / (key - 7) as d, value % (key - 7) as r where key == 7"),
            vec![row(&["0", "3"])],
        ),
        (
            q("select key where value in (3, 127) and not key == 9"),
            vec![row(&["7"])],
        ),
        (
            q("select key, value > 100 as big where key < 8 or key == 9"),
            vec![
                row(&["1", "true"]),
                row(&["7", "false"]),
                row(&["9", "true"]),
            ],
        ),
        (
            q("select key where map_name == \"counts\" and map_name like \"c%n_s\""),
            vec![row(&["1"]), row(&["7"]), row(&["4294967295"]), row(&["9"])],
        ),
        (q("select key where map_name == \"count\""), vec![]),
        (
            q("select key, value >> 56 as top, value & 0xff as low where key == 1"),
            vec![row(&["1", "1", "42"])],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(rows_of(btf, &query, &elements), expected, "{query}");
    }
}

#[test]
fn percpu_values_are_summed_and_wide_elements_are_bytes() {
    let btf = common::fixture("6.18");
    // 4 possible CPUs, each value rounded up to 8 bytes.
    let mut values = Vec::new();
    for v in [5u64, 0xffff_ffff, 0, 1] {
        values.extend(le(v, 8));
    }
    assert_eq!(
        rows_of(
            btf,
            "from bpf_map_elem(map = \"percpu\") select key, value",
            &[(le(3, 4), values)]
        ),
        vec![vec!["3".to_string(), "4294967301".to_string()]]
    );
    let key: Vec<u8> = (1..=16).collect();
    let value: Vec<u8> = (0xe0..0xf8).collect();
    assert_eq!(
        rows_of(
            btf,
            "from bpf_map_elem(map = \"flows\") select key, value, map_name",
            &[(key, value)]
        ),
        vec![vec![
            "0102030405060708090a0b0c0d0e0f10".to_string(),
            "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7".to_string(),
            "flows".to_string()
        ]]
    );
}
