//! Kernel tests: no kernel address reaches the output without `--show-kptrs`. A sweep over
//! every target this kernel has (`bpfq targets`): `select *`, every context field, and every
//! member one level down whose BTF type is or holds a pointer (by a BTF walk of the test's own),
//! in every output format; the same query with `--show-kptrs` gives the real addresses, none
//! of which, and nothing else that looks like a kernel address in any encoding bpfq uses (0x
//! hex, hex bytes in either byte order, decimal), may appear in the hidden output. Targets that
//! need a map get one the test creates. Then the shapes that once leaked, one by one: struct
//! values, ksym's address against /proc/kallsyms, grouping, joins, map values (user data,
//! shown as they are), `pin`'s kernel-printed text and `describe`.

use crate::common;

use common::socket_maps::SocketMap;
use common::*;
use std::collections::{BTreeMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::Mutex;

const FORMATS: [&str; 5] = ["table", "csv", "tsv", "json", "jsonl"];
const BPFFS: &str = "/sys/fs/bpf";

/// x86-64 kernel addresses: the upper half, without the top 16 MiB (fixmap, vsyscall, and the
/// ERR_PTR codes and -1 that integers and error pointers hold).
fn is_kernel_address(value: u64) -> bool {
    (0xffff_8000_0000_0000..0xffff_ffff_ff00_0000).contains(&value)
}

/// Calls `visit(value, likely)` for each 64-bit value `text` shows, in each encoding bpfq
/// uses. Likely: `0x` + hex, a decimal (negative ones as their two's complement) and every
/// 8-byte-aligned word of a hex byte string read in memory order (how bpfq prints a struct).
/// Not likely, only possible: the 8 bytes at every other position of such a string, and every
/// 8 bytes read in the other byte order. A likely value may be checked against the range of
/// kernel addresses; a possible one only against the real addresses (a hidden token read
/// backwards is as random as any 64 bits, and one in 2^17 of those looks like an address).
fn scan(text: &str, mut visit: impl FnMut(u64, bool)) {
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        let negative = token.starts_with('-');
        let token = token.trim_start_matches('-');
        if let Some(hex) = token.strip_prefix("0x") {
            if let Ok(value) = u64::from_str_radix(hex, 16) {
                visit(value, true);
            }
            continue;
        }
        if let Ok(value) = token.parse::<u64>() {
            visit(
                if negative {
                    value.wrapping_neg()
                } else {
                    value
                },
                true,
            );
        }
        if token.len() >= 16 && token.len() % 2 == 0 && token.bytes().all(|b| b.is_ascii_hexdigit())
        {
            let bytes: Vec<u8> = (0..token.len())
                .step_by(2)
                .map(|at| u8::from_str_radix(&token[at..at + 2], 16).expect("hex"))
                .collect();
            for (at, window) in bytes.windows(8).enumerate() {
                // Only words whose top 16 bits are set can be kernel addresses: skip the rest
                // before making them numbers (a dump has millions of windows).
                if window[6..] == [0xff, 0xff] || at % 8 == 0 {
                    visit(
                        u64::from_le_bytes(window.try_into().expect("8 bytes")),
                        at % 8 == 0,
                    );
                }
                if window[..2] == [0xff, 0xff] {
                    visit(
                        u64::from_be_bytes(window.try_into().expect("8 bytes")),
                        false,
                    );
                }
            }
        }
    }
}

/// The kernel addresses a --show-kptrs output shows.
fn addresses(text: &str) -> HashSet<u64> {
    let mut found = HashSet::new();
    scan(text, |value, likely| {
        if likely && is_kernel_address(value) {
            found.insert(value);
        }
    });
    found
}

/// The kernel addresses `text` shows that it must not: any of `real` (the addresses the same
/// query printed with --show-kptrs) in any encoding, and anything likely address-like.
fn shown_addresses(text: &str, real: &HashSet<u64>) -> Vec<u64> {
    let mut shown = Vec::new();
    scan(text, |value, likely| {
        if (likely && is_kernel_address(value)) || real.contains(&value) {
            shown.push(value);
        }
    });
    shown.sort_unstable();
    shown.dedup();
    shown
}

/// What the hidden output of `what` shows that it must not, each address with the first line
/// holding it.
fn leaks(what: &str, hidden: &str, real: &HashSet<u64>) -> Vec<String> {
    shown_addresses(hidden, real)
        .iter()
        .take(3)
        .map(|address| {
            let line = hidden
                .lines()
                .find(|line| shown_addresses(line, real).contains(address))
                .unwrap_or_default();
            format!("{what}: {address:#x} in\n  {line}")
        })
        .collect()
}

fn assert_hidden(what: &str, hidden: &str, real: &HashSet<u64>) {
    let found = leaks(what, hidden, real);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Whether `id` is, or holds at any depth, a pointer: the test's own BTF walk, independent of
/// the one bpfq hides pointers by.
fn holds_pointer(btf: &bpfq_kernel::Btf, id: bpfq_kernel::TypeId, depth: usize) -> bool {
    use bpfq_kernel::BtfType;
    let Ok(id) = btf.resolve(id) else {
        return false;
    };
    match btf.get(id) {
        Ok(BtfType::Ptr { .. }) => true,
        Ok(BtfType::Struct { .. } | BtfType::Union { .. }) if depth < 32 => btf
            .raw_members(id)
            .map(|members| {
                members
                    .iter()
                    .any(|m| m.bitfield_size.is_none() && holds_pointer(btf, m.type_id, depth + 1))
            })
            .unwrap_or(false),
        Ok(BtfType::Array { elem, len, .. }) if len > 0 => holds_pointer(btf, elem, depth + 1),
        _ => false,
    }
}

/// The columns the sweep selects for `target`: each context field, and `field.member` for
/// each member of a field's struct whose type is or holds a pointer.
fn pointer_columns(btf: &bpfq_kernel::Btf, target: &str) -> Vec<String> {
    let found = bpfq_kernel::catalogue::find_target(btf, target)
        .expect("BTF reads")
        .unwrap_or_else(|| panic!("`bpfq targets` listed {target}, the BTF has no context"));
    let mut columns = Vec::new();
    for field in &found.context {
        columns.push(field.name.clone());
        let Some(pointee) = field.pointee.filter(|p| p.0 != 0) else {
            continue;
        };
        let Ok(members) = btf.members(pointee) else {
            continue;
        };
        for member in members {
            if member.bitfield_size.is_none() && holds_pointer(btf, member.type_id, 0) {
                columns.push(format!("{}.{}", field.name, member.name));
            }
        }
    }
    columns
}

/// What happened to the columns of one target.
#[derive(Default)]
struct Swept {
    queries: usize,
    runs: usize,
    columns: usize,
    addresses: usize,
    /// Column -> why bpfq refused it (the diagnostic's first line).
    refused: BTreeMap<String, String>,
    /// What showed an address without --show-kptrs.
    leaks: Vec<String>,
}

/// Runs `from {from} select {columns}` with --show-kptrs (csv) and, if that works, hidden in
/// every format, asserting the hidden outputs show none of the addresses. A query bpfq refuses
/// is split until each refused column stands alone; it must refuse with nothing on stdout.
fn sweep_batch(
    from: &str,
    columns: &[String],
    tail: &'static str,
    refused_target: Option<&str>,
    swept: &mut Swept,
) {
    let query = format!("from {from} select {}{tail}", columns.join(", "));
    let shown = bpfq(&["--show-kptrs", "-o", "csv", &query]);
    swept.runs += 1;
    if !shown.status.success() {
        assert!(
            shown.stdout.is_empty(),
            "{query} failed but printed rows:\n{}",
            stdout(&shown)
        );
        let message = stderr(&shown);
        assert!(
            message.starts_with("error[E") || message.starts_with("bpfq: "),
            "{query}: a refusal is a diagnostic, not:\n{message}"
        );
        let first = message.lines().next().unwrap_or_default().to_string();
        if shown.status.code() == Some(1) && refused_target.is_some_and(|why| why == first) {
            // The kernel refuses every program of this target (see `target_refusal`): each
            // column is refused for that reason, not for itself.
            for column in columns {
                swept
                    .refused
                    .insert(format!("{from}: {column}"), first.clone());
            }
            return;
        }
        match columns {
            [] => panic!("an empty batch"),
            [one] => {
                swept.refused.insert(format!("{from}: {one}"), first);
            }
            _ => {
                // A compile error points at its column (`<query>:1:COL`): drop just that one.
                let at = message
                    .split("<query>:1:")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|col| col.parse::<usize>().ok());
                let start = format!("from {from} select ").len() + 1;
                let mut offset = start;
                let culprit = columns.iter().position(|c| {
                    let hit = at == Some(offset);
                    offset += c.len() + 2;
                    hit
                });
                match culprit {
                    Some(index) => {
                        // The diagnostic is that column's own: it is refused, the rest go on.
                        swept
                            .refused
                            .insert(format!("{from}: {}", columns[index]), first);
                        let rest: Vec<String> = columns
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| *i != index)
                            .map(|(_, c)| c.clone())
                            .collect();
                        sweep_batch(from, &rest, tail, refused_target, swept);
                    }
                    None => {
                        let (left, right) = columns.split_at(columns.len() / 2);
                        sweep_batch(from, left, tail, refused_target, swept);
                        sweep_batch(from, right, tail, refused_target, swept);
                    }
                }
            }
        }
        return;
    }
    let real = addresses(&stdout(&shown));
    swept.queries += 1;
    swept.columns += columns.len();
    swept.addresses += real.len();
    // The formats run side by side: on busy cores most of a run is waiting for one.
    let runs: Vec<_> = FORMATS
        .iter()
        .map(|format| {
            let child = Command::new(bpfq_path())
                .args(["-o", format, &query])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("bpfq runs");
            (format, child)
        })
        .collect();
    for (format, child) in runs {
        let out = child.wait_with_output().expect("bpfq ends");
        assert!(
            out.status.success(),
            "{query} -o {format}: {}",
            stderr(&out)
        );
        swept.runs += 1;
        swept.leaks.extend(leaks(
            &format!("{query} (-o {format})"),
            &stdout(&out),
            &real,
        ));
    }
}

impl Swept {
    fn add(&mut self, other: Swept) {
        self.queries += other.queries;
        self.runs += other.runs;
        self.columns += other.columns;
        self.addresses += other.addresses;
        self.refused.extend(other.refused);
        self.leaks.extend(other.leaks);
    }
}

/// Workers taking batches: with the formats of each side by side, up to 15 bpfq runs at once.
const WORKERS: usize = 3;

/// Why the kernel refuses every program of target `from` (a kernel may refuse a whole target), from
/// a query of one column that needs no more than the target; None where it runs.
fn target_refusal(from: &str) -> Option<String> {
    let out = bpfq(&["-o", "csv", &format!("from {from} select 1 limit 1")]);
    (out.status.code() == Some(1))
        .then(|| stderr(&out).lines().next().unwrap_or_default().to_string())
}

/// The rows each sweep query reads.
const ROWS: &str = " limit 1000";

/// Columns of at most this many per query (a query too wide for the program's stack is split).
const BATCH: usize = 40;

#[test]
fn sweep_every_target_and_pointer_field_in_every_format() {
    let _k = shared_kernel();
    mountpoint_bpffs();
    let btf = bpfq_kernel::Btf::from_file(std::path::Path::new("/sys/kernel/btf/vmlinux"))
        .expect("the kernel's BTF");
    // Maps for the targets that need one: a hash map (bpftool), a sockmap and an sk_storage
    // map holding loopback sockets (the python helper).
    let hash = PinnedHash::create(42);
    let sockmap = SocketMap::create("sockmap8", &format!("{BPFFS}/{}", unique_name("kpsm")), 2);
    let storage = SocketMap::create("sk_storage", &format!("{BPFFS}/{}", unique_name("kpsk")), 2);
    let targets = bpfq_ok(&["targets", "-o", "csv", "--no-header"]);
    let mut jobs = Vec::new();
    let mut target_refusals = HashSet::new();
    let mut targets_seen = 0;
    for line in targets.lines() {
        let target = line.split(',').next().expect("a target name");
        targets_seen += 1;
        let from = match target {
            "bpf_map_elem" => format!("bpf_map_elem(map = \"{}\")", hash.path),
            "sockmap" => format!("sockmap(map = \"{}\")", sockmap.path),
            "bpf_sk_storage_map" => format!("bpf_sk_storage_map(map = \"{}\")", storage.path),
            other => other.to_string(),
        };
        // The first objects of each target are enough to see every column's values (ksym
        // has ~200k symbols, task_vma thousands of VMAs; ksym_addresses_are_hidden reads all
        // of ksym's).
        let tail = ROWS;
        let refused = target_refusal(&from);
        target_refusals.extend(refused.clone());
        jobs.push((from.clone(), vec!["*".to_string()], tail, refused.clone()));
        for batch in pointer_columns(&btf, target).chunks(BATCH) {
            jobs.push((from.clone(), batch.to_vec(), tail, refused.clone()));
        }
    }
    let jobs = Mutex::new(jobs);
    let swept = Mutex::new(Swept::default());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                let mut mine = Swept::default();
                while let Some((from, columns, tail, refused)) = jobs.lock().unwrap().pop() {
                    sweep_batch(&from, &columns, tail, refused.as_deref(), &mut mine);
                }
                swept.lock().unwrap().add(mine);
            });
        }
    });
    let swept = swept.into_inner().unwrap();
    eprintln!(
        "kptr sweep: {targets_seen} targets, {} queries x {} formats hidden + 1 shown ({} bpfq runs), \
         {} columns, {} distinct addresses looked for; refused columns ({}):",
        swept.queries,
        FORMATS.len(),
        swept.runs,
        swept.columns,
        swept.addresses,
        swept.refused.len()
    );
    for (column, why) in &swept.refused {
        eprintln!("  {column}: {why}");
    }
    // A column is refused only for being too large a value (E0202), for needing a program
    // where this kernel walks the map from user space (E0304), or with its whole target.
    let unexplained: Vec<_> = swept
        .refused
        .iter()
        .filter(|(_, why)| {
            !(why.starts_with("error[E0202]")
                || why.starts_with("error[E0304]")
                || target_refusals.contains(*why))
        })
        .collect();
    assert!(unexplained.is_empty(), "refused: {unexplained:#?}");
    assert!(
        swept.leaks.is_empty(),
        "kernel addresses without --show-kptrs:\n{}",
        swept.leaks.join("\n")
    );
    assert!(targets_seen >= 10, "bpfq targets listed {targets_seen}");
    // The oracle is not vacuous: --show-kptrs did print addresses, thousands of them.
    assert!(swept.addresses > 1000, "only {} addresses", swept.addresses);
}

fn mountpoint_bpffs() {
    let mounted = Command::new("mountpoint")
        .args(["-q", BPFFS])
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        let status = Command::new("mount")
            .args(["-t", "bpf", "bpf", BPFFS])
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount bpffs");
    }
}

/// A hash map pinned in bpffs by bpftool holding key 7 -> `value`; removing the pin frees it.
struct PinnedHash {
    path: String,
}

impl PinnedHash {
    fn create(value: u64) -> PinnedHash {
        let name = unique_name("kpmap");
        let path = format!("{BPFFS}/{name}");
        let map = PinnedHash { path };
        let value: Vec<String> = value.to_le_bytes().iter().map(|b| b.to_string()).collect();
        for args in [
            vec![
                "map", "create", &map.path, "type", "hash", "key", "4", "value", "8", "entries",
                "4", "name", &name,
            ],
            [
                &[
                    "map", "update", "pinned", &map.path, "key", "7", "0", "0", "0", "value",
                ][..],
                &value.iter().map(String::as_str).collect::<Vec<_>>(),
            ]
            .concat(),
        ] {
            let out = Command::new("bpftool")
                .args(&args)
                .output()
                .expect("bpftool runs");
            assert!(out.status.success(), "bpftool {args:?}: {}", stderr(&out));
        }
        map
    }
}

impl Drop for PinnedHash {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs `query` (with `extra` arguments) with --show-kptrs and hidden in every format: the
/// hidden outputs show none of the addresses the shown one does, and it did show some.
fn assert_hidden_everywhere(query: &str, extra: &[&str]) {
    let shown = bpfq_ok(&[extra, &["--show-kptrs", "-o", "csv", query]].concat());
    let real = addresses(&shown);
    assert!(!real.is_empty(), "{query} showed no address:\n{shown}");
    for format in FORMATS {
        let hidden = bpfq_ok(&[extra, &["-o", format, query]].concat());
        assert_hidden(&format!("{query} (-o {format})"), &hidden, &real);
    }
}

/// The 16 hex digits of each 8 bytes of a hex byte string, read in memory order, as numbers.
fn words(hex: &str) -> Vec<u64> {
    (0..hex.len() / 16)
        .map(|n| {
            let bytes: Vec<u8> = (0..8)
                .map(|b| u8::from_str_radix(&hex[n * 16 + b * 2..n * 16 + b * 2 + 2], 16).unwrap())
                .collect();
            u64::from_le_bytes(bytes.try_into().unwrap())
        })
        .collect()
}

/// The struct values that printed their pointers' bytes raw: a list_head, a `possible_net_t`
/// (its pointer one struct down) and a `struct path`.
#[test]
fn struct_values_holding_pointers_are_hidden() {
    let _k = shared_kernel();
    // A listening socket of this test, so tcp has a row.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = listener.local_addr().unwrap().port();
    let me = std::process::id();
    assert_hidden_everywhere(
        &format!("from task select pid, task.tasks where pid == {me}"),
        &[],
    );
    assert_hidden_everywhere(
        &format!("from tcp select sport, sk_common.skc_net where sport == {port}"),
        &[],
    );
    assert_hidden_everywhere(
        &format!("from task_file select fd, file.f_path where pid == {me}"),
        &[],
    );
    // Each pointer inside the bytes shows the token its pointer column shows (the same hiding,
    // in memory order): the next task's list node, and this thread's own node.
    let (_, rows) = query_csv(
        &format!("from task select task.tasks, task.tasks.next, task.tasks.prev where tid == {me}"),
        &[],
    );
    let token = |cell: &str| u64::from_str_radix(cell.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0].len(), 32, "{rows:?}");
    assert_eq!(words(&rows[0][0]), [token(&rows[0][1]), token(&rows[0][2])]);
    assert!(words(&rows[0][0]).iter().all(|w| *w < 1 << 63), "{rows:?}");
    drop(listener);
}

/// ksym's address, an integer in the kernel's struct, is hidden like a pointer: none of
/// /proc/kallsyms' real addresses (read as root) appears in the whole dump, in any encoding.
#[test]
fn ksym_addresses_are_hidden() {
    let _k = shared_kernel();
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("/proc/kallsyms");
    let real: HashSet<u64> = kallsyms
        .lines()
        .filter_map(|line| u64::from_str_radix(line.split(' ').next()?, 16).ok())
        .filter(|&a| a != 0)
        .collect();
    assert!(
        real.len() > 10_000,
        "root reads real addresses in /proc/kallsyms"
    );
    let hidden = bpfq_ok(&["-o", "csv", "from ksym select name, value, address"]);
    assert_hidden("ksym", &hidden, &real);
    // value and address are one pointer: one token.
    let rows = csv_rows(&hidden);
    assert!(rows.len() > 10_000);
    assert!(rows[1..].iter().all(|r| r[1] == r[2]), "{:?}", &rows[..3]);
    // --show-kptrs shows exactly the kernel's address.
    let stext = kallsyms
        .lines()
        .find(|l| l.ends_with(" T _stext"))
        .expect("_stext");
    let shown = bpfq_ok(&[
        "--show-kptrs",
        "-o",
        "csv",
        "--no-header",
        "from ksym select value where name == \"_stext\"",
    ]);
    assert_eq!(shown.trim(), format!("0x{}", &stext[..16]));
}

/// Grouped results (in the kernel and in user space) and joins hide pointers in their keys
/// and values as any row does.
#[test]
fn grouped_and_joined_pointers_are_hidden() {
    let _k = shared_kernel();
    let me = std::process::id();
    let grouped = "from task select task.tasks, task.mm, count(*) group by task.tasks, task.mm";
    assert_hidden_everywhere(grouped, &[]);
    assert_hidden_everywhere(grouped, &["--group-in", "user"]);
    assert_hidden_everywhere(
        "from ksym select address, count(*) group by address limit 100",
        &[],
    );
    assert_hidden_everywhere(
        &format!(
            "from task as t join task_file as f on t.task == f.task \
             select t.task, t.task.tasks, f.file, f.file.f_path where t.pid == {me}"
        ),
        &[],
    );
}

/// Map values are user data, not kernel addresses: shown as they are, even when they look
/// like one. The `struct bpf_map` fields that are pointers need a program where the map is
/// walked from user space, which this kernel refuses (E0304), or are hidden where it runs.
#[test]
fn map_values_are_user_data() {
    let _k = shared_kernel();
    mountpoint_bpffs();
    let looks_like_an_address = 0xffff_8880_1234_5678u64;
    let map = PinnedHash::create(looks_like_an_address);
    let from = format!("from bpf_map_elem(map = \"{}\")", map.path);
    let rows = bpfq_ok(&[
        "-o",
        "csv",
        "--no-header",
        &format!("{from} select key, value"),
    ]);
    assert_eq!(rows, format!("7,{looks_like_an_address}\n"));
    let out = bpfq(&[&format!("{from} select key, map.ops")]);
    if out.status.success() {
        assert_hidden_everywhere(&format!("{from} select key, map.ops"), &[]);
    } else {
        assert!(stderr(&out).starts_with("error[E0304]"), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

/// `pin` prints in the kernel: a pointer inside a struct goes through `%pK` as a pointer
/// column does, so the reader of the pinned file sees what kptr_restrict allows it (root with
/// kptr_restrict 0 or 1: hashed), never the bytes of the address.
#[test]
fn pinned_text_hides_pointers_inside_structs() {
    let _k = shared_kernel();
    mountpoint_bpffs();
    let me = std::process::id();
    let query = format!("from task select pid, task.tasks, task.mm where pid == {me}");
    let shown = bpfq_ok(&["--show-kptrs", "-o", "tsv", &query]);
    let real = addresses(&shown);
    assert!(real.len() >= 2, "{shown}");
    let pin = format!("{BPFFS}/{}", unique_name("kppin"));
    bpfq_ok(&["pin", &query, &pin]);
    let text = std::fs::read_to_string(&pin);
    bpfq_ok(&["unpin", &pin]);
    let text = text.expect("the pinned iterator reads");
    let restrict = std::fs::read_to_string("/proc/sys/kernel/kptr_restrict").unwrap_or_default();
    if restrict.trim() != "0" && restrict.trim() != "1" {
        // kptr_restrict 2: zeros, which hide as well.
        assert!(!text.contains("8188ffff"), "{text}");
        return;
    }
    assert_hidden("pin", &text, &real);
    // task.tasks is two %pK values of 16 digits each; task.mm one.
    let row: Vec<&str> = text.lines().nth(1).expect("a row").split('\t').collect();
    assert_eq!(row[0], me.to_string());
    assert_eq!(row[1].len(), 32, "{text}");
    assert_eq!(row[2].len(), 16, "{text}");
}

/// `describe` says which integer members are kernel addresses.
#[test]
fn describe_marks_integer_addresses() {
    let text = bpfq_ok(&["describe", "ksym"]);
    let value = text
        .lines()
        .find(|l| l.trim_start().starts_with("value "))
        .expect("ksym's value member");
    assert!(
        value.ends_with("(holds a kernel address: hidden like a pointer)"),
        "{value}"
    );
}
