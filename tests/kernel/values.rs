//! Kernel tests of whole small structs and arrays as column values: `struct in6_addr` rendered as
//! an IPv6 address (checked against /proc/net/ipv6_route) and a bitmap array as bytes (checked
//! against /proc/PID/status).

use crate::common;

use common::*;
use std::net::Ipv6Addr;

#[test]
fn in6_addr_columns_match_proc_net_ipv6_route() {
    let _k = shared_kernel();
    let out = bpfq(&[
        "from ipv6_route select rt.fib6_dst.addr, rt.fib6_dst.plen, rt.fib6_metric",
        "-o",
        "csv",
        "--no-header",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut ours: Vec<(Ipv6Addr, u32, u32)> = stdout(&out)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().expect("an IPv6 address"),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    let proc_routes = std::fs::read_to_string("/proc/net/ipv6_route").unwrap();
    let mut theirs: Vec<(Ipv6Addr, u32, u32)> = proc_routes
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let addr = u128::from_str_radix(f[0], 16).unwrap();
            (
                Ipv6Addr::from(addr),
                u32::from_str_radix(f[1], 16).unwrap(),
                u32::from_str_radix(f[5], 16).unwrap(),
            )
        })
        .collect();
    ours.sort();
    theirs.sort();
    assert!(!theirs.is_empty(), "the loopback route at least");
    assert_eq!(ours, theirs);
}

#[test]
fn small_arrays_are_bytes() {
    let _k = shared_kernel();
    let me = std::process::id();
    let query = format!("from task select task.cpus_mask.bits where tid == {me}");
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hex = stdout(&out).trim().to_string();
    // Cpus_allowed is the same mask printed big-endian in 32-bit groups.
    let status = std::fs::read_to_string(format!("/proc/{me}/status")).unwrap();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed:"))
        .unwrap()
        .trim()
        .replace(',', "");
    let low_word = u64::from_str_radix(&allowed[allowed.len().saturating_sub(16)..], 16).unwrap();
    let first_eight = u64::from_str_radix(&hex[..16], 16).unwrap().swap_bytes();
    assert_eq!(
        first_eight, low_word,
        "row bytes {hex} vs Cpus_allowed {allowed}"
    );
}

/// task_file: one row per open file of the process, with the fd from the context and the inode
/// behind the file, as /proc/PID/fd shows them.
#[test]
fn task_file_lists_this_process_open_files() {
    let _k = shared_kernel();
    use std::os::unix::fs::MetadataExt;
    let me = std::process::id();
    let kept = std::fs::File::open("/proc/self/status").unwrap();
    let out = bpfq(&[
        &format!("from task_file(pid = {me}) select fd, file.f_inode.i_ino"),
        "-o",
        "csv",
        "--no-header",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut ours: Vec<(u32, u64)> = stdout(&out)
        .lines()
        .map(|l| {
            let (fd, ino) = l.split_once(',').unwrap();
            (fd.parse().unwrap(), ino.parse().unwrap())
        })
        .collect();
    ours.sort();
    ours.dedup(); // one row per thread sharing the table
    use std::os::fd::AsRawFd;
    let kept_fd = kept.as_raw_fd() as u32;
    let kept_ino = kept.metadata().unwrap().ino();
    assert!(
        ours.contains(&(kept_fd, kept_ino)),
        "fd {kept_fd} (inode {kept_ino}) missing from {ours:?}"
    );
    for (fd, ino) in &ours {
        if let Ok(meta) = std::fs::metadata(format!("/proc/{me}/fd/{fd}")) {
            // Sockets and pipes stat to their own inodes too; every fd still open must agree.
            assert_eq!(meta.ino(), *ino, "fd {fd}");
        }
    }
}

/// ksym lists exactly /proc/kallsyms: without the iterator's repeated last row and without the
/// symbol of bpfq's own program (BPF program symbols of concurrent runs are left out of the
/// comparison: they come and go).
#[test]
fn ksym_rows_are_exactly_kallsyms() {
    let _k = shared_kernel();
    let out = bpfq(&["from ksym select ksym.name", "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.lines().any(|l| l.ends_with("_bpfq_ksym")),
        "bpfq's own program is hidden"
    );
    let mut ours: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("bpf_prog_"))
        .collect();
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let mut theirs: Vec<&str> = kallsyms
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|n| !n.starts_with("bpf_prog_"))
        .collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours.len(), theirs.len());
    assert!(ours == theirs, "symbol lists differ");
}

/// The cgroup2 mount point, from /proc/mounts.
fn cgroup2_mount() -> std::path::PathBuf {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("cgroup2"))
        .expect("a cgroup2 mount");
    std::path::PathBuf::from(line.split_whitespace().nth(1).unwrap())
}

/// cgroup walks start where `path` says and go in `order`; ids are the directories' inodes.
#[test]
fn cgroup_walks_follow_the_hierarchy() {
    let _k = shared_kernel();
    use std::os::unix::fs::MetadataExt;
    struct Remove(std::path::PathBuf, std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.1);
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let top = cgroup2_mount().join(format!("bq_cg_{}", std::process::id()));
    let child = top.join("inner");
    std::fs::create_dir_all(&child).unwrap();
    let _cleanup = Remove(top.clone(), child.clone());
    let (top_id, child_id) = (
        std::fs::metadata(&top).unwrap().ino(),
        std::fs::metadata(&child).unwrap().ino(),
    );
    let rows = |query: String| -> Vec<String> {
        let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
        assert!(out.status.success(), "{query}: {}", stderr(&out));
        stdout(&out).lines().map(str::to_string).collect()
    };
    let top_name = top.file_name().unwrap().to_str().unwrap().to_string();
    let down = rows(format!(
        "from cgroup(path = {:?}, order = descendants_pre) select id, name",
        top.to_str().unwrap()
    ));
    assert_eq!(
        down,
        vec![format!("{top_id},{top_name}"), format!("{child_id},inner")]
    );
    let up = rows(format!(
        "from cgroup(path = {:?}, order = ancestors_up) select id, level",
        child.to_str().unwrap()
    ));
    let root_id = std::fs::metadata(cgroup2_mount()).unwrap().ino();
    assert_eq!(
        up,
        vec![
            format!("{child_id},2"),
            format!("{top_id},1"),
            format!("{root_id},0")
        ]
    );
    let all = rows("from cgroup select id".to_string());
    assert!(
        all.contains(&top_id.to_string()) && all.contains(&child_id.to_string()),
        "the default walk covers the hierarchy"
    );
    let only = rows(format!(
        "from cgroup(id = {child_id}, order = self_only) select name"
    ));
    assert_eq!(only, vec!["inner".to_string()]);
}
