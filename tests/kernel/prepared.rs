//! Kernel tests: one `Prepared` run many times (as `--watch` and a server do) for each kind of
//! kept program — a seq program, a ring program with its ring (iter/unix), a kernel-grouped
//! program with its group map — gives each run's rows from a fresh walk (objects the test
//! creates or destroys between runs appear or disappear), loads nothing after the first run
//! (this process's BPF program, link and map ids, read from /proc/self/fdinfo, stay the same),
//! and leaves nothing in the kernel once dropped (the ids are gone, asked by id).

use crate::common;

use bpfq_compiler::group_place::GroupPlace;
use bpfq_compiler::pipeline::{Compiled, CompiledQuery, Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::catalogue::RowTransport;
use bpfq_kernel::KernelFeatures;
use bpfq_runtime::execute::{Prepared, RunOptions, Timings};
use bpfq_runtime::notes::NoteSink;
use bpfq_runtime::{new_sink, FormatOptions, OutputFormat};
use common::with_features::vmlinux;
use common::*;
use std::collections::BTreeSet;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `query` compiled against the running kernel.
fn compile(query: &str) -> CompiledQuery {
    let mut sources = bpfq_compiler::diagnostic::Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib");
    let features = KernelFeatures::from_btf(vmlinux()).expect("features");
    let compiler = Compiler::new(vmlinux(), &features, &stdlib, &sources);
    compiler
        .compile(Input::File(file), Options::default())
        .unwrap_or_else(|diag| panic!("{}", diag.render(&sources)))
}

fn options(ring_size: Option<u64>) -> RunOptions {
    RunOptions {
        verbose: false,
        ring_size,
        group_entries: None,
        max_join_rows: 1000,
        notes: NoteSink::discard(),
    }
}

/// One run of `prepared`: its rows as csv lines, without the header, sorted.
fn run(prepared: &Prepared<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut sink = new_sink(OutputFormat::Csv, &mut out, FormatOptions::default());
    prepared
        .run(sink.as_mut(), &mut Timings::new(false))
        .unwrap_or_else(|err| panic!("run failed: {err}"));
    drop(sink);
    let mut lines: Vec<String> = String::from_utf8(out)
        .expect("utf-8 csv")
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// The BPF objects this process holds fds of, as ("prog" | "link" | "map", id), read from
/// /proc/self/fdinfo (the kernel's own account, not the runtime's).
fn held_bpf_objects() -> BTreeSet<(&'static str, u32)> {
    let mut held = BTreeSet::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let fd = entry.expect("fd entry").file_name();
        let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{}", fd.to_string_lossy()))
        else {
            continue;
        };
        let (kind, key) = match target.to_string_lossy().as_ref() {
            "anon_inode:bpf-prog" => ("prog", "prog_id:"),
            "anon_inode:bpf_link" => ("link", "link_id:"),
            "anon_inode:bpf-map" => ("map", "map_id:"),
            _ => continue,
        };
        let Ok(info) =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.to_string_lossy()))
        else {
            continue;
        };
        let id = info
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|id| id.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in the fdinfo of a {kind}: {info}"));
        held.insert((kind, id));
    }
    held
}

/// Whether the kernel still has the object `(kind, id)`.
fn exists((kind, id): (&str, u32)) -> bool {
    match kind {
        "prog" => bpfq_runtime::sys::prog_fd_by_id(id).is_ok(),
        "map" => bpfq_runtime::sys::map_fd_by_id(id).is_ok(),
        _ => bpfq_runtime::sys::link_ids()
            .expect("link ids")
            .contains(&id),
    }
}

/// Runs `prepared` once per step: `step(i)` changes the world and says which rows the run must
/// give. The BPF objects held after the first run must be held, unchanged, after every later
/// run; returns them.
fn runs_hold_one_set_of_objects(
    prepared: &Prepared<'_>,
    steps: usize,
    mut step: impl FnMut(usize) -> Vec<String>,
) -> BTreeSet<(&'static str, u32)> {
    let mut first_objects = None;
    for i in 0..steps {
        let mut expected = step(i);
        expected.sort();
        assert_eq!(run(prepared), expected, "rows of run {i}");
        let now = held_bpf_objects();
        assert!(
            now.iter().any(|(kind, _)| *kind == "prog"),
            "the prepared query holds its program: {now:?}"
        );
        let first = first_objects.get_or_insert_with(|| now.clone());
        assert_eq!(&now, first, "run {i} loaded or created something new");
    }
    first_objects.unwrap_or_default()
}

/// After `prepared` is dropped, none of `objects` exists any more.
fn dropping_releases(prepared: Prepared<'_>, objects: BTreeSet<(&'static str, u32)>) {
    drop(prepared);
    assert!(held_bpf_objects().is_empty(), "{:?}", held_bpf_objects());
    // The kernel frees an object when its last fd closes; a link may go a moment later.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Some(left) = objects.iter().find(|object| exists(**object)) {
        assert!(Instant::now() < deadline, "{left:?} outlived its Prepared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The one source of `compiled`.
fn single(compiled: &CompiledQuery) -> &Compiled {
    match compiled {
        CompiledQuery::Single(single) => single,
        CompiledQuery::Join(_) => panic!("one source"),
    }
}

fn prepare<'c>(
    compiled: &'c CompiledQuery,
    query: &'c str,
    ring_size: Option<u64>,
) -> Prepared<'c> {
    Prepared::new(
        compiled,
        query,
        options(ring_size),
        &mut Timings::new(false),
    )
    .unwrap_or_else(|err| panic!("{query} does not load: {err}"))
}

#[test]
fn a_seq_query_runs_many_times_on_one_program() {
    let _k = exclusive_kernel();
    let name = unique_name("pseq");
    let query = format!("from task select pid where comm == \"{name}\"");
    let compiled = compile(&query);
    let plan = &single(&compiled).plan;
    assert!(plan.group_place.is_none());
    assert_eq!(plan.target.transport, RowTransport::Seq);
    let prepared = prepare(&compiled, &query, None);
    let mut alive: Vec<Named> = Vec::new();
    let objects = runs_hold_one_set_of_objects(&prepared, 4, |i| {
        match i {
            0 | 1 => alive.push(Named::spawn(&name)),
            2 => drop(alive.remove(0)),
            _ => alive.clear(),
        }
        alive.iter().map(|named| named.pid().to_string()).collect()
    });
    dropping_releases(prepared, objects);
}

#[test]
fn a_kernel_grouped_query_runs_many_times_on_one_program_and_map() {
    let _k = exclusive_kernel();
    let names = [unique_name("pga"), unique_name("pgb")];
    let query = format!(
        "from task select comm, count(*) as n where comm == \"{}\" or comm == \"{}\" group by comm",
        names[0], names[1]
    );
    let compiled = compile(&query);
    let plan = &single(&compiled).plan;
    assert!(matches!(plan.group_place, Some(GroupPlace::Kernel(_))));
    let prepared = prepare(&compiled, &query, None);
    let mut alive: Vec<Named> = Vec::new();
    let objects = runs_hold_one_set_of_objects(&prepared, 4, |i| {
        match i {
            0 => alive.extend([Named::spawn(&names[0]), Named::spawn(&names[0])]),
            1 => alive.push(Named::spawn(&names[1])),
            2 => drop(alive.remove(0)),
            _ => alive.clear(),
        }
        names
            .iter()
            .map(|name| (name, alive.iter().filter(|n| &n.name == name).count()))
            .filter(|(_, count)| *count > 0)
            .map(|(name, count)| format!("{name},{count}"))
            .collect()
    });
    assert!(
        objects.iter().any(|(kind, _)| *kind == "map"),
        "the group map is kept: {objects:?}"
    );
    dropping_releases(prepared, objects);
}

/// Unix sockets bound to paths in a directory of their own, so a query can pick them out.
struct BoundSockets {
    dir: PathBuf,
    made: usize,
}

impl BoundSockets {
    fn new(tag: &str) -> BoundSockets {
        let dir = std::env::temp_dir().join(format!("bq{tag}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("socket dir");
        BoundSockets { dir, made: 0 }
    }

    /// `count` new sockets, with their inode numbers.
    fn make(&mut self, count: usize) -> Vec<(UnixDatagram, String)> {
        (0..count)
            .map(|_| {
                self.made += 1;
                let socket = UnixDatagram::bind(self.dir.join(self.made.to_string()))
                    .expect("bind a unix socket");
                let inode = std::os::unix::fs::MetadataExt::ino(
                    &std::fs::metadata(format!(
                        "/proc/self/fd/{}",
                        std::os::fd::AsRawFd::as_raw_fd(&socket)
                    ))
                    .expect("socket inode"),
                );
                (socket, inode.to_string())
            })
            .collect()
    }
}

impl Drop for BoundSockets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_ring_query_runs_many_times_on_one_program_and_ring() {
    let _k = exclusive_kernel();
    let mut bound = BoundSockets::new("pring");
    let query = format!(
        "from unix select inode where path like \"{}/%\"",
        bound.dir.display()
    );
    let compiled = compile(&query);
    let plan = &single(&compiled).plan;
    assert_eq!(plan.target.transport, RowTransport::RingBuf);
    // A first ring of one page: the first run grows it (300 rows of at least 16 bytes); later
    // runs reuse it, and as each run's records start where the last run's ended, some run's
    // records wrap around the ring's end.
    let prepared = prepare(&compiled, &query, Some(4096));
    let mut first = bound.make(150);
    let mut second = bound.make(150);
    let mut third = Vec::new();
    let objects = runs_hold_one_set_of_objects(&prepared, 6, |i| {
        match i {
            0 => {}
            1 => first.clear(),
            2 => third = bound.make(150),
            3 | 4 => {}
            _ => {
                second.clear();
                third.clear();
            }
        }
        first
            .iter()
            .chain(&second)
            .chain(&third)
            .map(|(_, inode)| inode.clone())
            .collect()
    });
    assert!(
        objects.iter().any(|(kind, _)| *kind == "map"),
        "the ring is kept: {objects:?}"
    );
    dropping_releases(prepared, objects);
}
