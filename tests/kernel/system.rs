//! Kernel tests of the system targets (task_vma, task_file, ksym, kmem_cache, ipv6_route):
//! queries run through the real kernel on objects the test made itself (processes, open files,
//! routes in its own network namespace) and are compared with /proc as an independent oracle.

use crate::common;

use common::*;
use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::process::{Command, Stdio};

/// A process named `tag...` that holds extra descriptors: 3 reads /etc/passwd (one line
/// already read, so its position is not 0), 4 appends to a temp file, 5 is a directory.
fn spawn_with_files(tag: &str, scratch: &std::path::Path) -> Named {
    let script = format!(
        "exec 3</etc/passwd 4>>{} 5<{}; read -r first <&3; exec \"$0\" \"$@\"",
        scratch.display(),
        std::env::temp_dir().display()
    );
    Named::spawn_program(
        &["sh", "-c", &script],
        "/bin/sleep",
        &["300"],
        &unique_name(tag),
        Stdio::piped,
    )
}

#[test]
fn task_vma_rows_match_proc_maps_of_a_spawned_process() {
    let _k = shared_kernel();
    let named = Named::spawn(&unique_name("vma"));
    let pid = named.pid();
    let query = format!(
        "from task_vma(pid = {pid}) select pid, start, end, read, write, exec, shared, offset, \
         dev_major, dev_minor, inode"
    );
    let (header, rows) = query_csv(&query, &[]);
    assert_eq!(header.len(), 11, "{header:?}");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    let mut expected = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // The vsyscall page is a gate area outside the process's VMA tree: no iterator row.
        if fields.get(5) == Some(&"[vsyscall]") {
            continue;
        }
        let (start, end) = fields[0].split_once('-').expect("range");
        let perms = fields[1].as_bytes();
        let flag = |i: usize, set: u8| (perms[i] == set).to_string();
        let inode: u64 = fields[4].parse().expect("inode");
        let (major, minor) = fields[3].split_once(':').expect("dev");
        let file_backed = inode != 0;
        expected.push(vec![
            pid.to_string(),
            u64::from_str_radix(start, 16).unwrap().to_string(),
            u64::from_str_radix(end, 16).unwrap().to_string(),
            flag(0, b'r'),
            flag(1, b'w'),
            flag(2, b'x'),
            flag(3, b's'),
            // /proc prints 0 as the offset of anonymous mappings; bpfq prints pgoff * 4096.
            if file_backed {
                u64::from_str_radix(fields[2], 16).unwrap().to_string()
            } else {
                String::new()
            },
            if file_backed {
                u64::from_str_radix(major, 16).unwrap().to_string()
            } else {
                String::new()
            },
            if file_backed {
                u64::from_str_radix(minor, 16).unwrap().to_string()
            } else {
                String::new()
            },
            if file_backed {
                inode.to_string()
            } else {
                String::new()
            },
        ]);
    }
    let got: Vec<Vec<String>> = rows
        .into_iter()
        .map(|mut row| {
            if row[10].is_empty() {
                row[7].clear();
            }
            row
        })
        .collect();
    assert!(expected.len() > 5, "a running sleep maps more: {maps}");
    assert_eq!(got, expected, "bpfq rows vs /proc/{pid}/maps:\n{maps}");
}

/// Maps a file shared read-write (`rw-s`), shared read-only (`r--s`), anonymous memory with
/// no access (`---p`, prot 0) and executable (`r-xp`), then prints its pid and waits until
/// stdin closes.
const MAPPINGS_SCRIPT: &str = "\
import mmap, os, sys
f = open(sys.argv[1], 'r+b'); f.truncate(3 * 4096)
shared = mmap.mmap(f.fileno(), 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
readonly = mmap.mmap(f.fileno(), 4096, mmap.MAP_SHARED, mmap.PROT_READ, offset=4096)
none = mmap.mmap(-1, 3 * 4096, mmap.MAP_PRIVATE, 0)
code = mmap.mmap(-1, 2 * 4096, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_EXEC)
print(os.getpid(), flush=True)
sys.stdin.read()
";

#[test]
fn task_vma_perms_match_proc_maps_and_filter_as_text() {
    use std::io::BufRead;
    let _k = shared_kernel();
    let file = std::env::temp_dir().join(unique_name("perms"));
    std::fs::write(&file, b"").expect("scratch file");
    let mut child = KillOnDrop(
        Command::new("python3")
            .args(["-c", MAPPINGS_SCRIPT])
            .arg(&file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs"),
    );
    let mut ready = String::new();
    std::io::BufReader::new(child.0.stdout.as_mut().expect("stdout"))
        .read_line(&mut ready)
        .expect("python3 reports its pid");
    // The pid python reports (`python3` may be a wrapper script that runs it as a child; the
    // closed stdin ends it either way).
    let pid: u32 = ready.trim().parse().expect("python3 reports its pid");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    let (_, rows) = query_csv(
        &format!("from task_vma(pid = {pid}) select start, perms"),
        &[],
    );
    let got: BTreeMap<u64, String> = rows
        .iter()
        .map(|r| (r[0].parse().expect("start"), r[1].clone()))
        .collect();
    let mut expected = BTreeMap::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(5) == Some(&"[vsyscall]") {
            continue;
        }
        let start = u64::from_str_radix(fields[0].split_once('-').expect("range").0, 16);
        expected.insert(start.expect("hex start"), fields[1].to_string());
    }
    assert_eq!(got, expected, "bpfq perms vs /proc/{pid}/maps:\n{maps}");
    for perms in ["rw-s", "r--s", "---p", "r-xp"] {
        assert!(maps.contains(&format!(" {perms} ")), "{perms} in:\n{maps}");
        // The filter runs in the kernel on the bits the text stands for.
        let (_, matching) = query_csv(
            &format!("from task_vma(pid = {pid}) select start where perms == \"{perms}\""),
            &[],
        );
        let want: Vec<String> = expected
            .iter()
            .filter(|(_, p)| *p == perms)
            .map(|(start, _)| start.to_string())
            .collect();
        let matching: Vec<String> = matching.into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(matching, want, "where perms == {perms:?}");
    }
    drop(child);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn task_file_rows_match_proc_fdinfo_of_a_spawned_process() {
    let _k = shared_kernel();
    let scratch = std::env::temp_dir().join(format!("bpfq-kfile-{}", std::process::id()));
    std::fs::write(&scratch, "x").expect("scratch file");
    let named = spawn_with_files("fd", &scratch);
    let pid = named.pid();
    let query = format!(
        "from task_file(pid = {pid}) select pid, comm, fd, type, inode, pos, flags, readable, \
         writable order by fd"
    );
    let (_, rows) = query_csv(&query, &[]);
    let _ = std::fs::remove_file(&scratch);
    let mut expected = Vec::new();
    let mut fds: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    fds.sort();
    for fd in &fds {
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).expect("fdinfo");
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("fdinfo {fd} has no {key}: {info}"))
        };
        // fdinfo adds O_CLOEXEC (02000000) from the descriptor table; the file has no such bit.
        let flags = u32::from_str_radix(&field("flags:"), 8).unwrap() & !0o2000000;
        let meta = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")).expect("stat fd");
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
        let access = flags & 3;
        expected.push(vec![
            pid.to_string(),
            named.name.clone(),
            fd.to_string(),
            ((mode & 0o170000) >> 12).to_string(),
            field("ino:"),
            field("pos:"),
            flags.to_string(),
            (access == 0 || access == 2).to_string(),
            (access == 1 || access == 2).to_string(),
        ]);
    }
    assert!(
        fds.contains(&5),
        "the directory descriptor is open: {fds:?}"
    );
    let by_fd = |fd: &str| {
        rows.iter()
            .find(|r| r[2] == fd)
            .cloned()
            .unwrap_or_default()
    };
    assert_ne!(by_fd("3")[5], "0", "fd 3 was read from: {rows:?}");
    assert_eq!(by_fd("4")[3], "8", "fd 4 is a regular file: {rows:?}");
    assert_eq!(by_fd("5")[3], "4", "fd 5 is a directory: {rows:?}");
    assert_eq!(rows, expected, "bpfq rows vs /proc/{pid}/fdinfo");
}

/// A kernel symbol: name, type letter, module, address.
type Symbol = (String, String, String, u64);

/// (name, type letter, module, address) multiset of the /proc/kallsyms symbols whose name starts with
/// `prefix`.
fn kallsyms(prefix: &str) -> BTreeMap<Symbol, usize> {
    let text = std::fs::read_to_string("/proc/kallsyms").expect("read kallsyms");
    let mut symbols = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (address, kind, name) = (fields.next(), fields.next(), fields.next());
        let (Some(address), Some(kind), Some(name)) = (address, kind, name) else {
            panic!("kallsyms line {line:?}");
        };
        if !name.starts_with(prefix) {
            continue;
        }
        let module = fields
            .next()
            .map(|m| m.trim_start_matches('[').trim_end_matches(']').to_string())
            .unwrap_or_default();
        *symbols
            .entry((
                name.to_string(),
                kind.to_string(),
                module,
                u64::from_str_radix(address, 16).expect("hex address"),
            ))
            .or_default() += 1;
    }
    symbols
}

#[test]
fn ksym_rows_match_proc_kallsyms() {
    let _k = shared_kernel();
    // All 120k symbols take seconds to compare in a debug build: the tcp ones are enough, and
    // the filter runs in the kernel on the 512-byte name.
    let (header, rows) = query_csv(
        "from ksym select name, type, module, address where name like \"tcp%\"",
        &["--show-kptrs"],
    );
    assert_eq!(header, ["name", "type", "module", "address"]);
    let mut got: BTreeMap<Symbol, usize> = BTreeMap::new();
    for row in &rows {
        assert_eq!(row.len(), 4, "{row:?}");
        assert_eq!(row[1].len(), 1, "type is one letter: {row:?}");
        let address = row[3].strip_prefix("0x").expect("address in hex");
        let key = (
            row[0].clone(),
            row[1].clone(),
            row[2].clone(),
            u64::from_str_radix(address, 16).expect("hex address"),
        );
        *got.entry(key).or_default() += 1;
    }
    let expected = kallsyms("tcp");
    assert!(
        got.keys()
            .any(|(name, kind, module, _)| name == "tcp_v4_rcv"
                && kind == "T"
                && module.is_empty()),
        "tcp_v4_rcv is global kernel text: {} rows",
        rows.len()
    );
    assert!(expected.len() > 100, "{} tcp symbols", expected.len());
    assert_eq!(got, expected, "bpfq rows vs /proc/kallsyms");

    // The letter compares as text in the kernel-side filter: the global text symbols only.
    let (_, global_text) = query_csv(
        "from ksym select name, type, module where name like \"tcp%\" and type == \"T\"",
        &[],
    );
    let mut got: Vec<String> = global_text.iter().map(|r| r.join(" ")).collect();
    got.sort();
    let mut want: Vec<String> = expected
        .iter()
        .flat_map(|((name, kind, module, _), n)| {
            std::iter::repeat_n(format!("{name} {kind} {module}"), *n)
        })
        .filter(|line| line.split(' ').nth(1) == Some("T"))
        .collect();
    want.sort();
    assert_eq!(
        got, want,
        "type == \"T\" vs the T symbols of /proc/kallsyms"
    );
}

/// name -> (num_objs, objsize, objperslab, pagesperslab, num_slabs) rows of /proc/slabinfo.
fn slabinfo() -> BTreeMap<String, Vec<[u64; 5]>> {
    let text = std::fs::read_to_string("/proc/slabinfo").expect("read slabinfo");
    let mut caches: BTreeMap<String, Vec<[u64; 5]>> = BTreeMap::new();
    for line in text.lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let n = |i: usize| f[i].parse::<u64>().expect("number");
        // name active_objs num_objs objsize objperslab pagesperslab : tunables ... : slabdata
        // active_slabs num_slabs sharedavail
        caches
            .entry(f[0].to_string())
            .or_default()
            .push([n(2), n(3), n(4), n(5), n(14)]);
    }
    caches
}

#[test]
fn kmem_cache_rows_match_proc_slabinfo() {
    let _k = shared_kernel();
    assert!(
        std::path::Path::new("/sys/devices/system/node/node0").exists()
            && !std::path::Path::new("/sys/devices/system/node/node1").exists(),
        "object counts come from node 0: this test needs a single-node machine"
    );
    // Counts move while the system runs (and can move and come back between two reads), so a
    // cache's counts must agree in at least one of a few attempts in which /proc held still.
    let mut agreed = std::collections::BTreeSet::new();
    let mut disagreed: BTreeMap<String, String> = BTreeMap::new();
    let mut stable = 0;
    for _attempt in 0..5 {
        let before = slabinfo();
        let (_, rows) = query_csv(
            "from kmem_cache select name, objects, size, objects_per_slab, pages_per_slab, slabs",
            &[],
        );
        let after = slabinfo();
        let mut got: BTreeMap<String, Vec<[u64; 5]>> = BTreeMap::new();
        for row in &rows {
            let n = |i: usize| row[i].parse::<u64>().expect("number");
            got.entry(row[0].clone())
                .or_default()
                .push([n(1), n(2), n(3), n(4), n(5)]);
        }
        let names = |m: &BTreeMap<String, Vec<[u64; 5]>>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&got), names(&before), "cache names");
        assert!(
            got.values().flatten().any(|c| c[0] > 0),
            "some cache has objects"
        );
        stable = 0;
        for (name, sizes) in &got {
            let shape = |v: &[[u64; 5]]| v.iter().map(|c| [c[1], c[2], c[3]]).collect::<Vec<_>>();
            assert_eq!(
                shape(sizes),
                shape(&before[name]),
                "{name}: objsize, per slab"
            );
            if before[name] == after[name] {
                stable += 1;
                if sizes == &before[name] {
                    agreed.insert(name.clone());
                } else {
                    disagreed.insert(
                        name.clone(),
                        format!("bpfq {sizes:?}, /proc {:?}", before[name]),
                    );
                }
            }
        }
        disagreed.retain(|name, _| !agreed.contains(name));
        if disagreed.is_empty() {
            break;
        }
    }
    assert!(
        disagreed.is_empty(),
        "num_objs, num_slabs never agreed: {disagreed:#?}"
    );
    assert!(stable > 20, "only {stable} caches held still");
}

/// A network namespace of this test, deleted on drop.
struct Netns(String);

impl Netns {
    fn create(tag: &str) -> Netns {
        let name = format!("bq_{tag}_{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let netns = Netns(name);
        netns.ip(&["netns", "add", &netns.0]);
        netns
    }

    /// Runs `ip ARGS`, asserting success.
    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("ip runs");
        assert!(out.status.success(), "ip {args:?}: {}", stderr(&out));
    }

    /// Runs `program ARGS` inside the namespace, asserting success; returns stdout.
    fn exec(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, program])
            .args(args)
            .output()
            .expect("ip netns exec runs");
        assert!(
            out.status.success(),
            "{program} {args:?} in {}: {}",
            self.0,
            stderr(&out)
        );
        stdout(&out)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ipv6_from_hex(hex: &str) -> String {
    Ipv6Addr::from(u128::from_str_radix(hex, 16).expect("hex address")).to_string()
}

#[test]
fn ipv6_route_rows_match_proc_net_ipv6_route_in_own_namespace() {
    let _k = shared_kernel();
    let ns = Netns::create("r6");
    let n = ns.0.as_str();
    // No link-local addresses: their duplicate address detection would add routes while the
    // test compares (loopback cannot carry a gateway route, so a veth pair is the device).
    ns.exec("sysctl", &["-qw", "net.ipv6.conf.default.addr_gen_mode=1"]);
    ns.ip(&[
        "-n", n, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
    ]);
    for dev in ["lo", "v0", "v1"] {
        ns.ip(&["-n", n, "link", "set", dev, "up"]);
    }
    ns.ip(&[
        "-n",
        n,
        "-6",
        "route",
        "add",
        "2001:db8::/64",
        "dev",
        "v0",
        "metric",
        "77",
    ]);
    ns.ip(&[
        "-n",
        n,
        "-6",
        "route",
        "add",
        "2001:db8:1::/48",
        "via",
        "2001:db8::1",
        "dev",
        "v0",
        "metric",
        "88",
    ]);
    ns.ip(&[
        "-n",
        n,
        "-6",
        "route",
        "add",
        "blackhole",
        "2001:db8:2::/64",
        "metric",
        "99",
    ]);
    let bpfq_path = bpfq_path();
    let text = ns.exec(
        bpfq_path.to_str().expect("utf-8 path"),
        &[
            "from ipv6_route select dst, dst_len, src, src_len, gateway, metric, refcnt, use, flags, dev",
            "-o",
            "csv",
        ],
    );
    let proc_text = ns.exec("cat", &["/proc/net/ipv6_route"]);
    let hex = |s: &str| u64::from_str_radix(s, 16).expect("hex").to_string();
    let mut expected: Vec<Vec<String>> = proc_text
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            vec![
                ipv6_from_hex(f[0]),
                hex(f[1]),
                ipv6_from_hex(f[2]),
                hex(f[3]),
                ipv6_from_hex(f[4]),
                hex(f[5]),
                hex(f[6]),
                hex(f[7]),
                hex(f[8]),
                f.get(9).unwrap_or(&"").to_string(),
            ]
        })
        .collect();
    let mut got = csv_rows(&text);
    expected.sort();
    got.sort();
    let ours = |dst: &str, metric: &str| {
        got.iter()
            .find(|r| r[0] == dst && r[5] == metric)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(ours("2001:db8::", "77")[9], "v0", "{got:?}");
    assert_eq!(ours("2001:db8:1::", "88")[4], "2001:db8::1", "{got:?}");
    assert!(!ours("2001:db8:2::", "99").is_empty(), "{got:?}");
    assert_eq!(got, expected, "bpfq rows vs /proc/net/ipv6_route in {n}");
}

/// `bpfq doctor -o csv`: (item, status, detail) rows.
fn doctor_rows() -> BTreeMap<String, (String, String)> {
    let out = bpfq_ok(&["doctor", "-o", "csv"]);
    out.lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.splitn(3, ',');
            let mut next = || {
                fields
                    .next()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string()
            };
            (next(), (next(), next()))
        })
        .collect()
}

/// The doctor's report agrees with the machine: the lockdown mode securityfs shows, every target
/// `bpfq targets` lists with a verdict (a refusal with its reason), the task target working, and
/// nothing left in the kernel by its trial loads.
#[test]
fn doctor_reports_this_kernel_and_every_target() {
    let _k = exclusive_kernel();
    let before = bpf_objects();
    let rows = doctor_rows();
    assert_objects_return_to(before, "bpfq doctor");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(rows["kernel"].1, format!("Linux {}", release.trim()));
    let lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown").expect("securityfs");
    let mode = lockdown
        .split_whitespace()
        .find(|w| w.starts_with('['))
        .expect("a mode in brackets")
        .trim_matches(['[', ']']);
    assert_eq!(rows["lockdown"].0, mode, "{rows:?}");
    assert_eq!(rows["btf"].0, "ok", "{rows:?}");
    assert_eq!(rows["capabilities"].0, "ok", "{rows:?}");
    assert_eq!(rows["bpffs"].0, "ok", "tests/run.sh mounts bpffs: {rows:?}");
    let targets = bpfq_ok(&["targets", "-o", "csv"]);
    for target in targets.lines().skip(1).filter_map(|l| l.split(',').next()) {
        let (status, detail) = &rows[&format!("target {target}")];
        match status.as_str() {
            "works" => {}
            "works with fallback" => assert!(!detail.is_empty(), "{target}: which fallback?"),
            "unavailable" => assert!(!detail.is_empty(), "{target}: no reason"),
            other => panic!("{target}: status {other}"),
        }
    }
    assert_eq!(rows["target task"].0, "works");
}
