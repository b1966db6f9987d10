//! Kernel tests of the map-element targets: `bpf_map_elem` rows for maps the test creates and
//! fills with bpftool are compared with `bpftool map dump -j` (by name, id and pinned path; hash,
//! array and per-CPU maps); `sockmap` and `bpf_sk_storage_map` rows with the loopback sockets
//! tests/helpers/socket_maps.py put in them (ports from getsockname, inodes from fstat).

use crate::common;

use common::socket_maps::{HeldSocket, SocketMap};
use common::*;
use std::process::Command;

const BPFFS: &str = "/sys/fs/bpf";

/// Runs bpftool with `args`, asserting success, and returns stdout.
fn bpftool(args: &[&str]) -> String {
    let out = Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool runs (install bpftool)");
    assert!(out.status.success(), "bpftool {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A map created and pinned by bpftool; removing the pin frees it.
struct PinnedMap {
    path: String,
    name: String,
}

impl PinnedMap {
    fn create(tag: &str, spec: &str) -> PinnedMap {
        let name = unique_name(tag);
        let path = format!("{BPFFS}/{name}");
        let _ = std::fs::remove_file(&path);
        let map = PinnedMap {
            path: path.clone(),
            name: name.clone(),
        };
        let mut args = vec!["map", "create", path.as_str()];
        args.extend(spec.split_whitespace());
        args.extend_from_slice(&["name", &name]);
        bpftool(&args);
        map
    }

    /// A map of `spec` holding `elements` (as `filled`), and its `dumped_rows` made by `row`.
    fn dumped(
        tag: &str,
        spec: &str,
        elements: &[&str],
        row: impl Fn(&[u8], &[u8]) -> Vec<String>,
    ) -> (PinnedMap, Vec<Vec<String>>) {
        let map = PinnedMap::filled(tag, spec, elements);
        let rows = map.dumped_rows(row);
        (map, rows)
    }

    /// A map made as by `create`, holding `elements` (each as for `update`).
    fn filled(tag: &str, spec: &str, elements: &[&str]) -> PinnedMap {
        let map = PinnedMap::create(tag, spec);
        for kv in elements {
            map.update(kv);
        }
        map
    }

    /// `bpftool map update` of one element; `kv` is "key B B .. value B B ..".
    fn update(&self, kv: &str) {
        let mut args = vec!["map", "update", "pinned", self.path.as_str()];
        args.extend(kv.split_whitespace());
        bpftool(&args);
    }

    fn id(&self) -> String {
        let show = bpftool(&["-j", "map", "show", "pinned", &self.path]);
        let start = show.find("\"id\":").expect("id in bpftool JSON") + 5;
        show[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect()
    }

    /// Each element of `bpftool map dump -j` as (key bytes, value bytes); for a per-CPU map
    /// the value bytes of every CPU follow each other.
    fn dump(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let json = bpftool(&["-j", "map", "dump", "pinned", &self.path]);
        json.split("{\"key\":")
            .skip(1)
            .map(|element| {
                let (key, rest) = element.split_once(']').expect("key array");
                (hex_tokens(key), hex_tokens(rest))
            })
            .collect()
    }

    /// The elements of `dump`, each made a row by `row(key, value)`, sorted.
    fn dumped_rows(&self, row: impl Fn(&[u8], &[u8]) -> Vec<String>) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = self.dump().iter().map(|(k, v)| row(k, v)).collect();
        rows.sort();
        rows
    }
}

impl Drop for PinnedMap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The bytes of every `"0xNN"` token in `text`, in order.
fn hex_tokens(text: &str) -> Vec<u8> {
    text.split("\"0x")
        .skip(1)
        .map(|t| u8::from_str_radix(&t[..2], 16).expect("hex byte"))
        .collect()
}

fn le_int(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether this kernel loads programs on `target`'s iterator. A kernel may deny a map-element
/// target by policy (EPERM with every capability held: the 6.18 build of these machines, for
/// programs of any shape).
fn programs_load(target: &str) -> Result<(), String> {
    raw_programs::smallest_program_loads(target).map_err(|refusal| refusal.to_string())
}

/// The sorted rows of `query`, a map-element query, or None where it cannot run. `bpf_map_elem`
/// always runs: with its program where the kernel loads one, else from a user-space walk of the
/// map, which `explain` must say, and which leaves no BPF object behind; where the program runs,
/// the walk (`--map-walk`) must give the same rows. On a kernel that refuses the other targets'
/// programs bpfq must say so in those words, exit 1 and leave nothing loaded.
fn sorted_rows_where_loadable(query: &str) -> Option<Vec<Vec<String>>> {
    let target = query
        .trim_start_matches("from ")
        .split('(')
        .next()
        .expect("a target");
    let loads = programs_load(target);
    if target == "bpf_map_elem" {
        let explained = bpfq_ok(&["explain", query]);
        assert_eq!(
            explained.contains("rows via:    user-space map walk"),
            loads.is_err(),
            "{query} (programs load: {loads:?}):\n{explained}"
        );
        let before = bpf_objects();
        let mut rows = sorted(query_csv(query, &[]).1);
        if loads.is_err() {
            assert_objects_return_to(before, query);
        }
        let walked = sorted(query_csv(query, &["--map-walk"]).1);
        assert_eq!(rows, walked, "{query}: the program's rows and the walk's");
        rows.sort();
        return Some(rows);
    }
    if let Some(rows_via) = socket_iterators_for(target) {
        // Where the kernel refuses map-element programs, the rows come from the socket
        // iterators (bpf_sk_storage_get on each socket, or its cookie found among the
        // sockmap's); the same rows. A sockmap of 4-byte values gives user space no cookies.
        let explain = bpfq(&["explain", query]);
        if explain.status.code() == Some(2) && stderr(&explain).contains("error[E0305]") {
            assert!(loads.is_err(), "{query}: {}", stderr(&explain));
            return None;
        }
        let explained = stdout(&explain);
        assert_eq!(
            explained.contains(&format!(
                "rows via:    {rows_via} (this kernel refuses map-element programs: probed"
            )),
            loads.is_err(),
            "{query} (programs load: {loads:?}):\n{explained}"
        );
        let before = bpf_objects();
        let rows = sorted(query_csv(query, &[]).1);
        assert_objects_return_to(before, query);
        // `--map-walk` plans as such a kernel would: where the map-element program loads, this
        // compares its rows with the socket iterators'.
        let forced = sorted(query_csv(query, &["--map-walk"]).1);
        assert_eq!(
            rows, forced,
            "{query}: the map-element program's rows and the sockets'"
        );
        return Some(rows);
    }
    if let Err(refusal) = loads {
        let before = bpf_objects();
        let out = bpfq(&[query]);
        assert_objects_return_to(before, query);
        assert_eq!(out.status.code(), Some(1), "{query}: {}", stderr(&out));
        let message = stderr(&out);
        assert!(
            message.contains("with EPERM although bpfq holds CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN")
                && message.contains("bpfq doctor"),
            "{query} on a kernel that refuses even the smallest {target} program ({refusal}): {message}"
        );
        return None;
    }
    Some(sorted(query_csv(query, &[]).1))
}

/// How `explain` says the rows of `target` come from socket iterators, for the targets that
/// can read them so.
fn socket_iterators_for(target: &str) -> Option<&'static str> {
    match target {
        "bpf_sk_storage_map" => {
            Some("tcp, udp, unix and netlink iterators calling bpf_sk_storage_get")
        }
        "sockmap" => Some(
            "tcp, udp and unix iterators matching each socket's cookie with the sockmap's, read \
             from user space",
        ),
        _ => None,
    }
}

fn sorted(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.sort();
    rows
}

/// The default columns of the map `reference` (a name or a path), sorted.
fn map_rows(reference: &str) -> Option<Vec<Vec<String>>> {
    sorted_rows_where_loadable(&format!("from bpf_map_elem(map = \"{reference}\")"))
}

#[test]
fn hash_map_by_name_id_and_path_matches_bpftool() {
    let _k = shared_kernel();
    let (map, expected) = PinnedMap::dumped(
        "meh",
        "type hash key 4 value 8 entries 16",
        &[
            "key 1 0 0 0 value 0x2a 0 0 0 0 0 0 1",
            "key 7 0 0 0 value 3 0 0 0 0 0 0 0",
            "key 0xff 0xff 0xff 0xff value 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff",
        ],
        |k, v| vec![le_int(k).to_string(), le_int(v).to_string()],
    );
    assert_eq!(expected.len(), 3);
    let by = [
        format!("map = \"{}\"", map.name),
        format!("map = {}", map.id()),
        format!("map = \"{}\"", map.path),
    ];
    for reference in by {
        let query = format!("from bpf_map_elem({reference}) select key, value");
        let rows = sorted_rows_where_loadable(&query).expect("bpf_map_elem always runs");
        assert_eq!(rows, expected, "{reference}");
    }
    let filtered = |filter: &str| {
        sorted_rows_where_loadable(&format!(
            "from bpf_map_elem(map = \"{}\") select map_name, map_id, key {filter}",
            map.name
        ))
        .expect("bpf_map_elem always runs")
    };
    let named = |key: &str| vec![map.name.clone(), map.id(), key.to_string()];
    assert_eq!(filtered("where value == 3"), vec![named("7")]);
    // A negative literal against the u32 key is 0xffffffff, as in the program.
    assert_eq!(
        filtered("where key == -1 or (value > 3 and not key in (7, 9))"),
        vec![named("1"), named("4294967295")]
    );
    assert_eq!(
        filtered(&format!("where map_name == \"{}\" and value < 4", map.name)),
        vec![named("7")]
    );
    assert_eq!(
        filtered("where map_name like \"nomatch%\""),
        Vec::<Vec<String>>::new()
    );
}

#[test]
fn odd_sizes_are_bytes_and_narrow_ints() {
    let _k = shared_kernel();
    let (map, expected) = PinnedMap::dumped(
        "meo",
        "type hash key 2 value 3 entries 4",
        &["key 0x34 0x12 value 1 2 3", "key 0 1 value 0xaa 0xbb 0xcc"],
        |k, v| vec![le_int(k).to_string(), hex(v)],
    );
    assert_eq!(map_rows(&map.name), Some(expected));
}

#[test]
fn array_map_lists_every_index() {
    let _k = shared_kernel();
    let (map, expected) = PinnedMap::dumped(
        "mea",
        "type array key 4 value 12 entries 4",
        &["key 2 0 0 0 value 1 2 3 4 5 6 7 8 9 10 11 12"],
        |k, v| vec![le_int(k).to_string(), hex(v)],
    );
    assert_eq!(expected.len(), 4, "an array dumps every index");
    assert_eq!(map_rows(&map.path), Some(expected));
}

#[test]
fn percpu_values_are_summed_over_cpus() {
    let _k = shared_kernel();
    let (map, expected) = PinnedMap::dumped(
        "mep",
        "type percpu_hash key 6 value 4 entries 4",
        &[
            "key 1 2 3 4 5 6 value 5 0 0 0",
            "key 9 9 9 9 9 9 value 0xff 0xff 0xff 0xff",
        ],
        |k, values| {
            let sum: u64 = values.chunks(4).map(le_int).sum();
            vec![hex(k), sum.to_string()]
        },
    );
    assert_eq!(expected.len(), 2);
    assert_eq!(map_rows(&map.name), Some(expected));
}

/// The other map types the iterator walks (LRU hash, per-CPU array, LRU per-CPU hash): rows
/// equal `bpftool map dump`'s elements, per-CPU values summed.
#[test]
fn every_walkable_map_type_matches_bpftool() {
    let _k = shared_kernel();
    let summed = |k: &[u8], values: &[u8]| {
        let sum: u64 = values.chunks(8).map(le_int).sum();
        vec![le_int(k).to_string(), sum.to_string()]
    };
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "mel",
            "type lru_hash key 4 value 8 entries 8",
            &[
                "key 3 0 0 0 value 1 1 0 0 0 0 0 0",
                "key 4 0 0 0 value 0 0 0 0 0 0 0 0x80",
            ],
        ),
        (
            "mepa",
            "type percpu_array key 4 value 8 entries 3",
            &["key 1 0 0 0 value 0x10 0 0 0 0 0 0 0"],
        ),
        (
            "melp",
            "type lru_percpu_hash key 4 value 8 entries 8",
            &["key 9 0 0 0 value 2 0 0 0 0 0 0 0"],
        ),
    ];
    for (tag, spec, elements) in cases {
        let (map, expected) = PinnedMap::dumped(tag, spec, elements, summed);
        assert!(!expected.is_empty(), "{spec}");
        assert_eq!(map_rows(&map.name), Some(expected), "{spec}");
    }
}

/// `bpfq -o FORMAT ARGS`, which must succeed: its stdout.
fn formatted(format: &str, args: &[&str]) -> String {
    let mut all = vec!["-o", format];
    all.extend_from_slice(args);
    let out = bpfq(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Every output format of two maps' rows (integers of 2, 4 and 8 bytes, bytes, text), in key
/// order: the snapshot is the text the program path prints (the walk must print the same, and on
/// a kernel that loads the program both paths are compared byte for byte).
#[test]
fn both_paths_print_the_same_text_in_every_format() {
    let _k = shared_kernel();
    let hash = PinnedMap::filled(
        "mef",
        "type hash key 4 value 8 entries 8",
        &[
            "key 1 0 0 0 value 0x2a 0 0 0 0 0 0 1",
            "key 7 0 0 0 value 3 0 0 0 0 0 0 0",
            "key 0xff 0xff 0xff 0xff value 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff",
        ],
    );
    let odd = PinnedMap::filled(
        "meg",
        "type hash key 2 value 3 entries 4",
        &["key 0x34 0x12 value 1 2 3", "key 0 1 value 0xaa 0xbb 0xcc"],
    );
    let mut text = String::new();
    for format in ["table", "csv", "tsv", "json", "jsonl"] {
        for (map, select) in [
            (&hash, "key, value, value > 3 as big"),
            (&odd, "key, value"),
        ] {
            let query = format!(
                "from bpf_map_elem(map = \"{}\") select {select} order by key",
                map.path
            );
            let default = formatted(format, &[&query]);
            let walked = formatted(format, &["--map-walk", &query]);
            assert_eq!(default, walked, "{format}: {query}");
            text.push_str(&format!("### -o {format} select {select}\n{default}\n"));
        }
    }
    insta::assert_snapshot!(text);
}

/// Grouping, having, sort, limit and joins run in user space over the walk's rows as over the
/// program's.
#[test]
fn grouping_sort_limit_and_joins_run_over_walked_rows() {
    let _k = shared_kernel();
    let (map, dumped) = PinnedMap::dumped(
        "mew",
        "type hash key 4 value 4 entries 16",
        &[
            "key 1 0 0 0 value 5 0 0 0",
            "key 2 0 0 0 value 5 0 0 0",
            "key 3 0 0 0 value 9 0 0 0",
            "key 4 0 0 0 value 1 0 0 0",
        ],
        |k, v| vec![le_int(k).to_string(), le_int(v).to_string()],
    );
    assert_eq!(dumped.len(), 4);
    let from = format!("from bpf_map_elem(map = \"{}\")", map.name);
    for extra in [&[][..], &["--map-walk"][..]] {
        let (_, groups) = query_csv(
            &format!(
                "{from} select value, count(*) as n, sum(key) as keys group by value \
                 having count(*) > 0 order by n desc, value limit 2"
            ),
            extra,
        );
        assert_eq!(
            groups,
            vec![vec!["5", "2", "3"], vec!["1", "1", "4"]],
            "{extra:?}"
        );
        let (_, first) = query_csv(
            &format!("{from} select key where value != 9 order by key desc limit 2"),
            extra,
        );
        assert_eq!(first, vec![vec!["4"], vec!["2"]], "{extra:?}");
        // Without a sort, reading stops at the limit.
        let (_, one) = query_csv(&format!("{from} select key limit 1"), extra);
        assert_eq!(one.len(), 1, "{extra:?}");
    }
    let other = PinnedMap::filled(
        "mex",
        "type array key 4 value 8 entries 4",
        &["key 3 0 0 0 value 0x10 0 0 0 0 0 0 0"],
    );
    let (_, joined) = query_csv(
        &format!(
            "{from} as a join bpf_map_elem(map = \"{}\") as b on a.key == b.key \
             select a.key, a.value, b.value where b.value > 0",
            other.name
        ),
        &[],
    );
    assert_eq!(joined, vec![vec!["3", "9", "16"]]);
}

/// A column or filter the walk cannot compute is E0304 (exit 2, nothing loaded) where the kernel
/// refuses map-element programs, and runs where it loads them.
#[test]
fn what_the_walk_cannot_compute_is_e0304_where_programs_are_refused() {
    let _k = shared_kernel();
    let map = PinnedMap::create("mee", "type hash key 4 value 4 entries 4");
    let query = format!(
        "from bpf_map_elem(map = \"{}\") select key, map.max_entries",
        map.name
    );
    let walked = bpfq(&["--map-walk", &query]);
    assert_eq!(walked.status.code(), Some(2), "{}", stderr(&walked));
    assert!(
        stderr(&walked).contains("error[E0304]"),
        "{}",
        stderr(&walked)
    );
    let out = bpfq(&[&query]);
    match programs_load("bpf_map_elem") {
        Err(_) => {
            assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains("error[E0304]") && err.contains("probed"),
                "{err}"
            );
        }
        Ok(()) => assert!(out.status.success(), "{}", stderr(&out)),
    }
}

fn socket_rows(held: &[HeldSocket]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = held
        .iter()
        .map(|s| {
            // Unix and netlink sockets have no internet address (NULL: empty in CSV); a bound
            // netlink socket is in state 7 (TCP_CLOSE), a socketpair's end connected like the
            // TCP sockets.
            let (family, address, state) = match s.family {
                2 => ("inet", "127.0.0.1", "TCP_ESTABLISHED"),
                16 => ("netlink", "", "TCP_CLOSE"),
                1 => ("unix", "", "TCP_ESTABLISHED"),
                other => panic!("a family the helper does not create: {other}"),
            };
            vec![
                s.first.to_string(),
                family.to_string(),
                address.to_string(),
                s.sport.to_string(),
                address.to_string(),
                s.dport.to_string(),
                state.to_string(),
                s.inode.to_string(),
            ]
        })
        .collect();
    rows.sort();
    rows
}

/// The sorted (key or value, protocol) of each socket in `held`.
fn first_and_protocol(held: &[HeldSocket]) -> Vec<Vec<String>> {
    sorted(
        held.iter()
            .map(|s| vec![s.first.to_string(), s.protocol.to_string()])
            .collect(),
    )
}

/// A fresh pinned map of `kind` holding `count` loopback sockets, and the sorted rows of
/// `from TARGET(map = ...) select FIRST, <the socket columns>` over it.
fn socket_map_query(
    kind: &str,
    tag: &str,
    count: usize,
    target: &str,
    first: &str,
) -> (SocketMap, Option<Vec<Vec<String>>>) {
    let path = format!("{BPFFS}/{}", unique_name(tag));
    let map = SocketMap::create(kind, &path, count);
    let rows = sorted_rows_where_loadable(&format!(
        "from {target}(map = \"{path}\") select {first}, family, src, sport, dst, dport, state, inode"
    ));
    (map, rows)
}

/// A sockmap of 4-byte values: its rows where the kernel loads the sockmap program; where it
/// refuses it, user space cannot find its sockets (no cookies): E0305 in those words, exit 2,
/// nothing left in the kernel.
#[test]
fn sockmap_rows_are_the_sockets_put_in_it() {
    let _k = shared_kernel();
    // 3 sockets in a 6-slot sockmap: the empty slots are not rows.
    let (map, rows) = socket_map_query("sockmap", "mes", 3, "sockmap", "key");
    assert_eq!(map.sockets.len(), 3);
    match rows {
        Some(rows) => assert_eq!(rows, socket_rows(&map.sockets)),
        None => {
            assert!(programs_load("sockmap").is_err());
            let query = format!("from sockmap(map = \"{}\") select key, sport", map.path);
            let before = bpf_objects();
            let out = bpfq(&[&query]);
            assert_objects_return_to(before, &query);
            assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains("error[E0305]")
                    && err.contains("the map's values are 4 bytes")
                    && err.contains("created with 8-byte (u64) values"),
                "{err}"
            );
        }
    }
}

#[test]
fn sockhash_rows_are_the_sockets_put_in_it() {
    let _k = shared_kernel();
    let (map, rows) = socket_map_query("sockhash", "meq", 2, "sockmap", "key");
    assert!(map.sockets.iter().all(|s| s.first >= 100));
    if let Some(rows) = rows {
        assert_eq!(rows, socket_rows(&map.sockets));
    }
}

/// A sockmap of 8-byte values holding TCP, UDP and unix sockets gives its rows on every kernel:
/// the sockmap program's, or (where the kernel refuses it) the socket iterators', which find
/// each socket by the cookie user space reads from the map; `--map-walk` forces the latter
/// where the program loads, and the rows are the same.
#[test]
fn sockmap_of_cookies_rows_are_the_sockets_put_in_it() {
    let _k = shared_kernel();
    for (kind, tag, first_key) in [("sockmap8", "me8", 0), ("sockhash8", "mh8", 100)] {
        let (map, rows) = socket_map_query(kind, tag, 3, "sockmap", "key");
        // The TCP sockets at the first keys, then UDP and unix where the kernel takes them.
        let keys: Vec<u64> = map.sockets.iter().map(|s| s.first).collect();
        assert_eq!(
            keys[..3],
            [first_key, first_key + 1, first_key + 2],
            "{kind}"
        );
        assert!(map.sockets.len() >= 3, "{kind}");
        let rows = rows.expect("rows of a sockmap of cookies on every kernel");
        assert_eq!(rows, socket_rows(&map.sockets), "{kind}");
        let query = format!("from sockmap(map = \"{}\") select key, protocol", map.path);
        assert_eq!(
            sorted(query_csv(&query, &[]).1),
            first_and_protocol(&map.sockets),
            "{kind}"
        );
    }
    // `bpfq doctor` loads the socket programs with a stand-in map: the target works.
    let (status, detail) = doctor_verdict("sockmap");
    match programs_load("sockmap") {
        Ok(()) => assert_eq!(status, "works", "{detail}"),
        Err(_) => {
            assert_eq!(status, "works with fallback", "{detail}");
            assert!(
                detail.contains("rows read through the tcp, udp and unix iterators matching"),
                "{detail}"
            );
        }
    }
}

#[test]
fn sk_storage_rows_are_the_sockets_holding_a_value() {
    let _k = shared_kernel();
    let (map, rows) = socket_map_query("sk_storage", "mek", 2, "bpf_sk_storage_map", "value");
    // Two TCP sockets, a connected UDP one, a unix one and a netlink one.
    assert_eq!(map.sockets.len(), 5);
    assert_eq!(map.sockets.iter().filter(|s| s.protocol == 17).count(), 1);
    let families: Vec<u16> = map.sockets.iter().map(|s| s.family).collect();
    assert_eq!(families, [2, 2, 2, 1, 16]);
    let rows = rows.expect(
        "sk_storage rows on every kernel: the map-element program, or the socket iterators",
    );
    assert_eq!(rows, socket_rows(&map.sockets));
    let query = format!(
        "from bpf_sk_storage_map(map = \"{}\") select value, protocol",
        map.path
    );
    assert_eq!(
        sorted(query_csv(&query, &[]).1),
        first_and_protocol(&map.sockets)
    );
    // `bpfq doctor` loads the socket programs with a stand-in map: the target works.
    let (status, detail) = doctor_verdict("bpf_sk_storage_map");
    let expected = match programs_load("bpf_sk_storage_map") {
        Ok(()) => "works",
        Err(_) => "works with fallback",
    };
    assert_eq!(status, expected, "{detail}");
    if programs_load("bpf_sk_storage_map").is_err() {
        assert!(
            detail.contains("rows read through the tcp, udp, unix and netlink iterators"),
            "{detail}"
        );
    }
}

/// The map holds sockets of any network namespace; where the rows come from tcp and udp
/// iterators (each sees one namespace), every namespace is read.
#[test]
fn sk_storage_rows_include_sockets_of_other_network_namespaces() {
    let _k = shared_kernel();
    let path = format!("{BPFFS}/{}", unique_name("mekn"));
    let map = SocketMap::create_in_new_netns("sk_storage", &path, 1);
    assert_eq!(map.sockets.len(), 4);
    let query = format!(
        "from bpf_sk_storage_map(map = \"{path}\") select value, family, src, sport, dst, dport, state, inode"
    );
    let rows = sorted_rows_where_loadable(&query).expect("sk_storage rows");
    assert_eq!(rows, socket_rows(&map.sockets));
}

#[test]
fn bad_maps_are_coded_errors_before_loading() {
    let _k = shared_kernel();
    let map = PinnedMap::create("mer", "type ringbuf key 0 value 0 entries 4096");
    let hash = PinnedMap::create("mehx", "type hash key 4 value 4 entries 4");
    let cases = [
        (
            format!("from bpf_map_elem(map = \"{}\")", map.name),
            "E0117",
        ),
        (format!("from sockmap(map = \"{}\")", hash.name), "E0117"),
        // A near miss of an existing name: the suggestion names the real map.
        (
            format!("from bpf_map_elem(map = \"{}x\")", hash.name),
            "E0116",
        ),
        ("from bpf_map_elem select key".to_string(), "E0115"),
        ("from bpf_map_elem(map = 4294967295)".to_string(), "E0116"),
    ];
    for (query, code) in cases {
        let out = bpfq(&[&query]);
        assert_eq!(out.status.code(), Some(2), "{query}");
        let err = stderr(&out);
        assert!(err.contains(&format!("error[{code}]")), "{query}: {err}");
        if code == "E0116" && query.contains(&hash.name) {
            assert!(err.contains(&format!("`{}`", hash.name)), "{err}");
        }
    }
}
