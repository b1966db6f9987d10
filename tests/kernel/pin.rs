//! Kernel tests of `bpfq pin` / `bpfq unpin` / `bpfq compile -o`: pinned iterators read with
//! `cat` (here: std::fs::read) agree with /proc for a process the test spawned, have the file
//! mode asked for, disappear with their link on unpin, and are refused outside a bpffs; the
//! ELF object is accepted by `bpftool iter pin` and parsed by aya.

use crate::common;
#[path = "../../compiler/tests/golden/common/targets.rs"]
mod targets;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use targets::TEXT_OUTPUT_TARGETS;

/// A path in /sys/fs/bpf removed when the test ends, whatever happened (mounts bpffs if none).
struct PinPath(PathBuf);

impl PinPath {
    fn new(tag: &str) -> PinPath {
        PinPath(bpffs_root().join(format!("bpfq_test_{tag}_{}", std::process::id())))
    }

    fn as_str(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for PinPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The id of the link pinned at `path`, from bpftool.
fn pinned_link_id(path: &str) -> u32 {
    let out = Command::new("bpftool")
        .args(["link", "show", "pinned", path])
        .output()
        .expect("bpftool");
    assert!(
        out.status.success(),
        "bpftool link show pinned: {}",
        stderr(&out)
    );
    let text = stdout(&out);
    text.split(':')
        .next()
        .and_then(|id| id.trim().parse().ok())
        .unwrap_or_else(|| panic!("no link id in {text:?}"))
}

fn link_exists(id: u32) -> bool {
    Command::new("bpftool")
        .args(["link", "show", "id", &id.to_string()])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The lines of the pinned file (each `read` runs the iterator program again).
fn cat(path: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("read the pinned iterator");
    text.lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Checks the rows of a `pid, tid, comm, ppid, state` query of `named` against /proc.
fn assert_rows_match_proc(rows: &[Vec<String>], named: &Named) {
    assert_eq!(rows[0], ["pid", "tid", "comm", "ppid", "vm"], "header line");
    let pid = named.pid();
    let mine: Vec<_> = rows[1..]
        .iter()
        .filter(|r| r[0] == pid.to_string())
        .collect();
    assert_eq!(mine.len(), 1, "one row for the spawned process: {rows:?}");
    let row = mine[0];
    assert_eq!(row[1], pid.to_string(), "tid of a single-threaded process");
    assert_eq!(row[2], named.name, "comm");
    assert_eq!(row[3], proc_stat_field(pid, 4), "ppid");
    // /proc/PID/statm's first field is the size in pages: mm->total_vm.
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).expect("statm");
    assert_eq!(row[4], statm.split_whitespace().next().unwrap(), "total_vm");
}

fn query_of(named: &Named) -> String {
    format!(
        "from task select pid, tid, comm, ppid, task.mm.total_vm as vm where comm == \"{}\"",
        named.name
    )
}

#[test]
fn a_pinned_query_prints_rows_that_match_proc_until_unpinned() {
    let _k = shared_kernel();
    let named = Named::spawn(&unique_name("pin"));
    let pin = PinPath::new("task");
    bpfq_ok(&["pin", &query_of(&named), pin.as_str()]);
    let mode = std::fs::metadata(&pin.0)
        .expect("pinned")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600, "default mode");
    // Read twice: each read is a fresh walk of the same link.
    for _ in 0..2 {
        assert_rows_match_proc(&cat(pin.as_str()), &named);
    }
    let link = pinned_link_id(pin.as_str());
    assert!(link_exists(link));
    bpfq_ok(&["unpin", pin.as_str()]);
    assert!(!pin.0.exists(), "unpin removes the file");
    // The kernel frees an unpinned link from a work queue: poll briefly.
    let deadline = Instant::now() + Duration::from_secs(5);
    while link_exists(link) {
        assert!(
            Instant::now() < deadline,
            "link {link} still listed after unpin"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pin_mode_and_null_values() {
    let _k = shared_kernel();
    let pin = PinPath::new("mode");
    // Kernel threads have no mm: their vm is NULL, printed as `-`; kthreadd is pid 2.
    bpfq_ok(&[
        "pin",
        "--mode",
        "0644",
        "from task select pid, comm, task.mm.total_vm as vm, pid == 2 as is_two where pid == 2",
        pin.as_str(),
    ]);
    let mode = std::fs::metadata(&pin.0)
        .expect("pinned")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o644);
    let rows = cat(pin.as_str());
    let comm = std::fs::read_to_string("/proc/2/comm").expect("comm of pid 2");
    assert_eq!(
        rows,
        vec![
            vec!["pid", "comm", "vm", "is_two"],
            vec!["2", comm.trim(), "-", "true"],
        ]
    );
    bpfq_ok(&["unpin", pin.as_str()]);
}

#[test]
fn pinning_outside_a_bpffs_is_refused_and_leaves_nothing() {
    let _k = shared_kernel();
    let path = std::env::temp_dir().join(format!("bpfq_not_bpffs_{}", std::process::id()));
    let out = bpfq(&["pin", "from task select pid", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not in a BPF filesystem"),
        "{}",
        stderr(&out)
    );
    assert!(!path.exists(), "no file left behind");
    // A compile error is reported before anything is loaded or pinned.
    let pin = PinPath::new("refused");
    let out = bpfq(&["pin", "from task select pid order by pid", pin.as_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("E0303"), "{}", stderr(&out));
    assert!(!pin.0.exists());
    // unpin refuses what is not a pinned link.
    let out = bpfq(&["unpin", "/sys/fs/bpf"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn a_compiled_object_runs_under_bpftool_and_parses_in_aya() {
    let _k = shared_kernel();
    let named = Named::spawn(&unique_name("obj"));
    let object = std::env::temp_dir().join(format!("bpfq_q_{}.o", std::process::id()));
    bpfq_ok(&["compile", &query_of(&named), "-o", object.to_str().unwrap()]);
    let bytes = std::fs::read(&object).expect("object written");
    let _ = std::fs::remove_file(&object);

    let pin = PinPath::new("obj");
    let copy = std::env::temp_dir().join(format!("bpfq_q2_{}.o", std::process::id()));
    std::fs::write(&copy, &bytes).expect("write object");
    let out = Command::new("bpftool")
        .args(["iter", "pin", copy.to_str().unwrap(), pin.as_str()])
        .output()
        .expect("bpftool");
    let _ = std::fs::remove_file(&copy);
    assert!(out.status.success(), "bpftool iter pin: {}", stderr(&out));
    assert_rows_match_proc(&cat(pin.as_str()), &named);
    std::fs::remove_file(&pin.0).expect("remove bpftool's pin");

    // aya's loader parses the object: the program, its section kind and the .rodata map.
    let mut ebpf = aya::Ebpf::load(&bytes).expect("aya parses the object");
    let name = ebpf
        .programs()
        .map(|(name, _)| name.to_string())
        .next()
        .expect("one program");
    assert_eq!(name, "bpfq_task");
    assert!(matches!(
        ebpf.program_mut(&name),
        Some(aya::programs::Program::Iter(_))
    ));
    assert_eq!(ebpf.maps().count(), 1, "the format strings' .rodata map");
}

#[test]
fn a_pinned_map_query_keeps_its_map_alive() {
    let _k = shared_kernel();
    let map = PinPath::new("map");
    let bpftool = |args: &[&str]| {
        let out = Command::new("bpftool")
            .args(args)
            .output()
            .expect("bpftool");
        assert!(out.status.success(), "bpftool {args:?}: {}", stderr(&out));
    };
    bpftool(&[
        "map",
        "create",
        map.as_str(),
        "type",
        "hash",
        "key",
        "4",
        "value",
        "8",
        "entries",
        "4",
        "name",
        "bpfq_pin_test",
    ]);
    bpftool(&[
        "map",
        "update",
        "pinned",
        map.as_str(),
        "key",
        "7",
        "0",
        "0",
        "0",
        "value",
        "42",
        "1",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
    ]);
    let pin = PinPath::new("mapq");
    let query = format!(
        "from bpf_map_elem(map = \"{}\") select key, value",
        map.as_str()
    );
    // Rows read from user space (forced here) leave no program to pin, on any kernel: E0304,
    // before anything is loaded, and no file.
    let forced = bpfq(&["pin", &query, pin.as_str(), "--map-walk"]);
    let message = stderr(&forced);
    assert_eq!(forced.status.code(), Some(2), "{message}");
    assert!(
        message.contains("error[E0304]")
            && message.contains("there is no program to pin")
            && message.contains("given: --map-walk"),
        "{message}"
    );
    assert!(!pin.0.exists(), "a refused pin left {}", pin.as_str());
    if let Err(refusal) = raw_programs::smallest_program_loads("bpf_map_elem") {
        // A kernel that denies map-element programs by policy: the pin is the coded error (the
        // probe says why), nothing is loaded or left behind, and the query itself still runs,
        // from a user-space walk of the map.
        let before = bpf_objects();
        let out = bpfq(&["pin", &query, pin.as_str()]);
        assert_objects_return_to(before, "a refused pin");
        let message = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{refusal}: {message}");
        assert!(
            message.contains("error[E0304]")
                && message.contains("refuses programs on map-element iterators (probed")
                && message.contains("there is no program to pin"),
            "{message}"
        );
        assert!(!pin.0.exists(), "a refused pin left {}", pin.as_str());
        let (_, rows) = query_csv(&query, &[]);
        assert_eq!(rows, vec![vec!["7", "298"]]);
        return;
    }
    bpfq_ok(&["pin", &query, pin.as_str()]);
    // The map's own pin goes away; the iterator link still holds the map.
    std::fs::remove_file(&map.0).expect("unpin the map");
    // Value bytes 42, 1, 0... are the little-endian u64 42 + 256.
    let expected = vec![vec!["key", "value"], vec!["7", "298"]];
    assert_eq!(cat(pin.as_str()), expected);
    bpfq_ok(&["unpin", pin.as_str()]);
}

/// Every target's default columns load, pin and print on this kernel, under the header that
/// `-o tsv` prints for the same query (the verifier accepts every kind of column's format).
#[test]
fn every_target_pins_and_prints_its_default_columns() {
    let _k = shared_kernel();
    for target in TEXT_OUTPUT_TARGETS {
        let query = format!("from {target} select *");
        if target == "task_vma" && vma_paths_walk() {
            // The path is a dentry walk here, joined in user space: the kernel cannot print
            // it (E0303, naming the column), and nothing may be left pinned by trying.
            let pin = PinPath::new(target);
            let out = bpfq(&["pin", &query, pin.as_str()]);
            let message = stderr(&out);
            // A query bpfq cannot compile for this kernel: exit 2, as for any compile error.
            assert_eq!(out.status.code(), Some(2), "{message}");
            assert!(
                message.contains("E0303")
                    && message.contains("column `path` is a file path built by a dentry walk"),
                "{message}"
            );
            assert!(!pin.0.exists(), "a refused pin left {}", pin.as_str());
            // Without the path, the other default columns pin and print.
            let rest = "from task_vma select pid, start, end, perms, offset, dev_major, \
                        dev_minor, inode";
            let pin = PinPath::new(target);
            bpfq_ok(&["pin", rest, pin.as_str()]);
            let text = std::fs::read_to_string(&pin.0).expect("read the pin");
            assert!(text.starts_with("pid\tstart\t"), "{text}");
            bpfq_ok(&["unpin", pin.as_str()]);
            continue;
        }
        let tsv = bpfq_ok(&[&query, "-o", "tsv"]);
        let header = tsv.lines().next().unwrap_or_default().to_string();
        let pin = PinPath::new(target);
        bpfq_ok(&["pin", &query, pin.as_str()]);
        let text = std::fs::read_to_string(&pin.0).expect("read the pin");
        let columns = header.split('\t').count();
        if let Some(first) = text.lines().next() {
            assert_eq!(first, header, "{target}: header line");
        }
        for line in text.lines().skip(1) {
            assert_eq!(line.split('\t').count(), columns, "{target}: {line:?}");
        }
        bpfq_ok(&["unpin", pin.as_str()]);
    }
}

/// Where the kernel refuses map-element programs, a `bpf_sk_storage_map` query's rows come from
/// tcp and udp iterator programs: there is no one program to pin, so `pin` is E0304, loads
/// nothing and leaves no file; the query itself runs.
#[test]
fn sk_storage_pin_without_map_element_programs_is_e0304() {
    let _k = shared_kernel();
    if raw_programs::smallest_program_loads("bpf_sk_storage_map").is_ok() {
        // Pinned like any map-element query on such a kernel (every_target... covers loading).
        return;
    }
    let storage = common::socket_maps::SocketMap::create(
        "sk_storage",
        &format!("/sys/fs/bpf/{}", unique_name("pks")),
        1,
    );
    let query = format!(
        "from bpf_sk_storage_map(map = \"{}\") select value",
        storage.path
    );
    let pin = PinPath::new("sksq");
    let before = bpf_objects();
    let out = bpfq(&["pin", &query, pin.as_str()]);
    assert_objects_return_to(before, "a refused sk_storage pin");
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(
        message.contains("error[E0304]")
            && message.contains("no bpf_sk_storage_map program to pin")
            && message.contains("(probed"),
        "{message}"
    );
    assert!(!pin.0.exists(), "a refused pin left {}", pin.as_str());
    let (_, rows) = query_csv(&query, &[]);
    assert_eq!(rows.len(), storage.sockets.len(), "{rows:?}");
}
