//! Kernel tests of the ring buffer row transport at scale: iter/unix through the seq buffer
//! skips the rest of a hash bucket at every read() boundary, so with thousands of sockets rows
//! went missing. These tests open 12,000 unix sockets in a child process and compare the inodes
//! bpfq returns for them with /proc/net/unix (an independent view): every one present, none twice.

use crate::common;

use common::*;
use std::collections::{BTreeSet, HashMap};

/// How often each of `ours` appears in `listed`.
fn counts<'a>(listed: &'a [String], ours: &BTreeSet<&str>) -> HashMap<&'a str, usize> {
    let mut seen = HashMap::new();
    for inode in listed.iter().filter(|i| ours.contains(i.as_str())) {
        *seen.entry(inode.as_str()).or_insert(0) += 1;
    }
    seen
}

/// The inodes bpfq lists. The 108-byte path makes 12,000 rows span more than one 1 MiB window
/// of ring data (records cut by a window's end).
fn bpfq_inodes(extra: &[&str]) -> (Vec<String>, String) {
    let (rows, log) = bpfq_inodes_of("from unix select inode, path", extra);
    let inodes = rows
        .iter()
        .map(|row| row.split(',').next().unwrap_or("").to_string())
        .collect();
    (inodes, log)
}

fn bpfq_inodes_of(query: &str, extra: &[&str]) -> (Vec<String>, String) {
    let mut args = vec![query, "-o", "csv", "--no-header"];
    args.extend_from_slice(extra);
    let out = bpfq(&args);
    assert!(
        out.status.success(),
        "bpfq {args:?} failed: {}",
        stderr(&out)
    );
    let inodes = stdout(&out).lines().map(str::to_string).collect();
    (inodes, stderr(&out))
}

fn assert_every_socket_once(listed: &[String], pairs: &UnixPairs, what: &str) {
    let ours: BTreeSet<&str> = pairs.inodes.iter().map(String::as_str).collect();
    let proc = proc_net_unix_inodes();
    let in_proc = counts(&proc, &ours);
    assert_eq!(
        in_proc.len(),
        ours.len(),
        "/proc/net/unix lists all of ours"
    );
    let in_bpfq = counts(listed, &ours);
    let missing: Vec<&&str> = ours.iter().filter(|i| !in_bpfq.contains_key(**i)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} sockets missing, e.g. {:?}",
        missing.len(),
        ours.len(),
        &missing[..missing.len().min(5)]
    );
    let twice: Vec<(&&str, &usize)> = in_bpfq.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{what}: rows repeated: {twice:?}");
    let everything: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        everything.len(),
        listed.len(),
        "{what}: no inode twice at all"
    );
}

#[test]
fn twelve_thousand_unix_sockets_all_come_back_once() {
    // Exclusive: thousands of sockets opened and closed by a parallel test would make
    // /proc/net/unix (which resumes each read by position) skip some of ours.
    let _k = exclusive_kernel();
    let pairs = UnixPairs::spawn(6000);
    let before: BTreeSet<String> = proc_net_unix_inodes().into_iter().collect();
    let (listed, _) = bpfq_inodes(&[]);
    let after: BTreeSet<String> = proc_net_unix_inodes().into_iter().collect();
    assert_every_socket_once(&listed, &pairs, "estimated ring");
    // Not only ours: the seq transport lost the oldest sockets of a bucket first, which may be
    // other processes' sockets. Every socket that lived through the run must be listed.
    let listed: BTreeSet<&String> = listed.iter().collect();
    let missing: Vec<&String> = before
        .intersection(&after)
        .filter(|i| !listed.contains(i))
        .collect();
    assert!(
        missing.is_empty(),
        "{} sockets /proc/net/unix listed before and after the run are missing: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

#[test]
fn a_ring_that_fills_up_is_grown_and_the_walk_repeated() {
    // Exclusive: thousands of sockets opened and closed by a parallel test would make
    // /proc/net/unix (which resumes each read by position) skip some of ours.
    let _k = exclusive_kernel();
    let pairs = UnixPairs::spawn(6000);
    // 12,000 rows of 120 bytes need 1.5 MB of records: a 4 KiB ring fills up nine times.
    let (listed, log) = bpfq_inodes(&["--ring-size", "4096", "--verbose"]);
    assert!(
        log.contains("filled up; walking again"),
        "--verbose tells of the retries: {log}"
    );
    assert_every_socket_once(&listed, &pairs, "grown ring");
}

#[test]
fn order_and_limit_apply_to_ring_rows() {
    // Exclusive: thousands of sockets opened and closed by a parallel test would make
    // /proc/net/unix (which resumes each read by position) skip some of ours.
    let _k = exclusive_kernel();
    let pairs = UnixPairs::spawn(3000);
    let numbers: Vec<u64> = pairs
        .inodes
        .iter()
        .map(|i| i.parse().expect("inode"))
        .collect();
    let (low, high) = (numbers.iter().min().unwrap(), numbers.iter().max().unwrap());
    let query =
        format!("from unix select inode where inode >= {low} and inode <= {high} order by inode desc limit 5");
    let (listed, _) = bpfq_inodes_of(&query, &["--ring-size", "8192"]);
    let mut expected: Vec<u64> = proc_net_unix_inodes()
        .iter()
        .filter_map(|i| i.parse().ok())
        .filter(|i| (low..=high).contains(&i))
        .collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    expected.truncate(5);
    let expected: Vec<String> = expected.iter().map(u64::to_string).collect();
    assert_eq!(listed, expected, "bpfq (left) vs /proc/net/unix (right)");
}
