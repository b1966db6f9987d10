//! Kernel tests of the BPF object targets (`bpf_map`, `bpf_prog`, `bpf_link`): bpfq's rows for
//! maps the test creates with bpftool, and for the program and link of a bpfq run the test keeps
//! alive, are compared with `bpftool -j ... show` and /proc/PID/fdinfo.

use crate::common;

use common::*;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BPFFS: &str = "/sys/fs/bpf";

/// Mounts bpffs at /sys/fs/bpf unless it already is (pins need it).
fn ensure_bpffs() {
    let mounts = std::fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
    if !mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(BPFFS) && l.contains(" bpf "))
    {
        let status = Command::new("mount")
            .args(["-t", "bpf", "bpf", BPFFS])
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount bpffs at {BPFFS}");
    }
}

/// Runs bpftool with `args`, asserting success, and returns stdout.
fn bpftool(args: &[&str]) -> String {
    let out = Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool runs (install bpftool)");
    assert!(
        out.status.success(),
        "bpftool {args:?} failed: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// The raw JSON text of `"key":VALUE` in a flat bpftool object (quotes kept off strings);
/// enough for bpftool's numbers, booleans and names, which hold no commas.
fn json_field<'a>(object: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("\"{key}\":");
    let start = object.find(&pattern)? + pattern.len();
    let rest = &object[start..];
    let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
    Some(rest[..end].trim().trim_matches('"'))
}

fn field<'a>(object: &'a str, key: &str) -> &'a str {
    json_field(object, key).unwrap_or_else(|| panic!("bpftool JSON has no {key}: {object}"))
}

/// bpftool's lower-case type name (`hash`, `tracing`, `iter`) as the kernel enumerator.
fn enumerator(prefix: &str, bpftool_name: &str) -> String {
    format!("{prefix}{}", bpftool_name.to_uppercase())
}

/// A map created and pinned by bpftool; removing the pin frees it (no fd holds it).
struct PinnedMap {
    path: String,
    name: String,
}

impl PinnedMap {
    fn create(name: &str, spec: &[&str]) -> PinnedMap {
        ensure_bpffs();
        let path = format!("{BPFFS}/{name}");
        let _ = std::fs::remove_file(&path);
        let mut args = vec!["map", "create", path.as_str()];
        args.extend_from_slice(spec);
        args.extend_from_slice(&["name", name]);
        let map = PinnedMap {
            path: path.clone(),
            name: name.to_string(),
        };
        bpftool(&args);
        map
    }

    /// bpftool's JSON object for this map.
    fn json(&self) -> String {
        bpftool(&["-j", "map", "show", "pinned", &self.path])
    }
}

impl Drop for PinnedMap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn bpf_map_rows_match_bpftool_for_created_maps() {
    let _k = shared_kernel();
    let hash = PinnedMap::create(
        &unique_name("mh"),
        &[
            "type", "hash", "key", "4", "value", "8", "entries", "16", "flags", "1",
        ],
    );
    let array = PinnedMap::create(
        &unique_name("ma"),
        &["type", "array", "key", "4", "value", "32", "entries", "4"],
    );
    bpftool(&["map", "freeze", "pinned", &array.path]);

    let (header, rows) = query_csv(
        "from bpf_map select id, name, type, key_size, value_size, max_entries, flags, frozen",
        &[],
    );
    assert_eq!(
        header,
        [
            "id",
            "name",
            "type",
            "key_size",
            "value_size",
            "max_entries",
            "flags",
            "frozen"
        ]
    );
    for map in [&hash, &array] {
        let json = map.json();
        let id = field(&json, "id");
        let row = rows
            .iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("map {id} ({}) missing: {rows:?}", map.name));
        let frozen = if field(&json, "frozen") == "1" {
            "true"
        } else {
            "false"
        };
        let expected = [
            id.to_string(),
            field(&json, "name").to_string(),
            enumerator("BPF_MAP_TYPE_", field(&json, "type")),
            field(&json, "bytes_key").to_string(),
            field(&json, "bytes_value").to_string(),
            field(&json, "max_entries").to_string(),
            field(&json, "flags").to_string(),
            frozen.to_string(),
        ];
        assert_eq!(row[..], expected[..], "bpftool: {json}");
    }
    // The oracle itself saw what the test asked for, so the comparison above is not vacuous.
    assert_eq!(field(&hash.json(), "flags"), "1");
    assert_eq!(field(&array.json(), "frozen"), "1");
}

#[test]
fn bpf_map_filters_by_type_enumerator_and_name() {
    let _k = shared_kernel();
    let hash = PinnedMap::create(
        &unique_name("fh"),
        &["type", "hash", "key", "8", "value", "8", "entries", "4"],
    );
    let array = PinnedMap::create(
        &unique_name("fa"),
        &["type", "array", "key", "4", "value", "4", "entries", "2"],
    );
    let (_, hashes) = query_csv("from bpf_map select id, name, type where type == HASH", &[]);
    assert!(
        hashes.iter().all(|r| r[2] == "BPF_MAP_TYPE_HASH"),
        "{hashes:?}"
    );
    assert!(hashes.iter().any(|r| r[1] == hash.name), "{hashes:?}");
    assert!(!hashes.iter().any(|r| r[1] == array.name), "{hashes:?}");

    let query = format!("from bpf_map select id where name == \"{}\"", array.name);
    let (_, named) = query_csv(&query, &[]);
    assert_eq!(named, [[field(&array.json(), "id").to_string()]]);
}

/// A bpfq run kept alive mid-iteration: its stdout is a pipe nobody reads, so once the pipe is
/// full it blocks with its iterator program and link loaded.
struct BlockedRun {
    /// Held only to keep the run alive; killing it on drop frees the program and link.
    _process: KillOnDrop,
    prog_id: String,
    link_id: String,
}

impl BlockedRun {
    fn start() -> BlockedRun {
        // iter/ksym prints ~120k rows: far more than a pipe holds.
        let child = Command::new(bpfq_path())
            .args(["from ksym select ksym.value", "-o", "csv"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bpfq runs");
        let mut child = KillOnDrop(child);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Some((prog_id, link_id)) = bpf_fds_of(child.pid()) {
                return BlockedRun {
                    _process: child,
                    prog_id,
                    link_id,
                };
            }
            if let Ok(Some(status)) = child.0.try_wait() {
                let mut err = String::new();
                if let Some(mut pipe) = child.0.stderr.take() {
                    let _ = pipe.read_to_string(&mut err);
                }
                panic!("the blocking bpfq run ended ({status}) before it could be seen:\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "bpfq never held a BPF program and link"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// (program id, link id) of the BPF link fd that process `pid` holds, read from its fdinfo.
fn bpf_fds_of(pid: u32) -> Option<(String, String)> {
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let entry = entry.ok()?;
        let target = std::fs::read_link(entry.path()).ok()?;
        if target.to_string_lossy() != "anon_inode:bpf_link" {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            entry.file_name().to_string_lossy()
        ))
        .ok()?;
        let value = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        return Some((value("prog_id:")?, value("link_id:")?));
    }
    None
}

/// Seconds between the Unix epoch and boot, as bpftool converts `load_time` to `loaded_at`.
fn boot_time_secs() -> f64 {
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .expect("read /proc/uptime")
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("uptime seconds");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    now.as_secs_f64() - uptime
}

#[test]
fn bpf_prog_row_of_a_running_bpfq_matches_bpftool() {
    let _k = shared_kernel();
    let run = BlockedRun::start();
    let json = bpftool(&["-j", "prog", "show", "id", &run.prog_id]);
    let query = format!(
        "from bpf_prog select id, name, type, tag, gpl, jited, xlated_bytes, jited_bytes, uid, \
         load_time, map_count, attach_type where id == {}",
        run.prog_id
    );
    let (_, rows) = query_csv(&query, &[]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    let expected_head = [
        run.prog_id.clone(),
        field(&json, "name").to_string(),
        enumerator("BPF_PROG_TYPE_", field(&json, "type")),
        field(&json, "tag").to_string(),
        field(&json, "gpl_compatible").to_string(),
        field(&json, "jited").to_string(),
        field(&json, "bytes_xlated").to_string(),
        field(&json, "bytes_jited").to_string(),
        field(&json, "uid").to_string(),
    ];
    assert_eq!(row[..9], expected_head[..], "bpftool: {json}");
    assert_eq!(
        row[1], "bpfq_ksym",
        "bpfq names its program after the target"
    );
    assert_eq!(row[2], "BPF_PROG_TYPE_TRACING");

    let load_time_ns: f64 = row[9].parse().expect("load_time is a number");
    let loaded_at: f64 = field(&json, "loaded_at").parse().expect("loaded_at");
    let skew = (boot_time_secs() + load_time_ns / 1e9 - loaded_at).abs();
    assert!(
        skew < 2.0,
        "load_time {load_time_ns} ns vs loaded_at {loaded_at}"
    );

    // bpftool lists map_ids only for programs that use maps; this one uses none.
    assert_eq!(json_field(&json, "map_ids"), None, "{json}");
    assert_eq!(row[10], "0");
    // An iterator program is loaded for BPF_TRACE_ITER (its link is `iter` in bpftool).
    assert_eq!(row[11], "BPF_TRACE_ITER");
}

#[test]
fn bpf_link_row_of_a_running_bpfq_matches_bpftool() {
    let _k = shared_kernel();
    let run = BlockedRun::start();
    let json = bpftool(&["-j", "link", "show", "id", &run.link_id]);
    let query = format!(
        "from bpf_link select id, type, prog_id, prog_name, attach_type where id == {}",
        run.link_id
    );
    let (header, rows) = query_csv(&query, &[]);
    assert_eq!(
        header,
        ["id", "type", "prog_id", "prog_name", "attach_type"]
    );
    let expected = [[
        run.link_id.clone(),
        enumerator("BPF_LINK_TYPE_", field(&json, "type")),
        field(&json, "prog_id").to_string(),
        field(
            &bpftool(&["-j", "prog", "show", "id", &run.prog_id]),
            "name",
        )
        .to_string(),
        "BPF_TRACE_ITER".to_string(),
    ]];
    assert_eq!(rows, expected, "bpftool: {json}");
    assert_eq!(
        field(&json, "prog_id"),
        run.prog_id,
        "fdinfo and bpftool agree"
    );
    assert_eq!(field(&json, "target_name"), "ksym");
}

#[test]
fn bpfq_sees_its_own_iterator_program_and_link() {
    let _k = shared_kernel();
    let (_, progs) = query_csv(
        "from bpf_prog select id, type, attach_type where name == \"bpfq_bpf_prog\"",
        &[],
    );
    assert!(
        !progs.is_empty(),
        "bpfq's own program is loaded while it runs"
    );
    for row in &progs {
        assert_eq!(row[1..], ["BPF_PROG_TYPE_TRACING", "BPF_TRACE_ITER"]);
    }
    let (_, links) = query_csv(
        "from bpf_link select id, type, prog_id where prog_name == \"bpfq_bpf_link\"",
        &[],
    );
    assert!(
        !links.is_empty(),
        "bpfq's own link is attached while it runs"
    );
    for row in &links {
        assert_eq!(row[1], "BPF_LINK_TYPE_ITER");
    }
}

#[test]
fn select_star_shows_the_documented_defaults() {
    let _k = shared_kernel();
    let (maps, _) = query_csv("from bpf_map select *", &[]);
    assert_eq!(
        maps,
        [
            "id",
            "type",
            "name",
            "key_size",
            "value_size",
            "max_entries",
            "flags"
        ]
    );
    let (progs, rows) = query_csv("from bpf_prog select *", &[]);
    assert_eq!(
        progs,
        [
            "id",
            "type",
            "name",
            "tag",
            "gpl",
            "xlated_bytes",
            "jited_bytes",
            "uid"
        ]
    );
    assert!(rows.iter().any(|r| r[2] == "bpfq_bpf_prog"), "{rows:?}");
    let (links, _) = query_csv("from bpf_link select *", &[]);
    assert_eq!(links, ["id", "type", "prog_id", "prog_name", "attach_type"]);
}
