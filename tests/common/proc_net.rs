//! Test support: an independent view of sockets — the rows of /proc/net/{tcp,udp}[6] in bpfq's
//! rendering, and the socket inodes a process holds (/proc/PID/fd).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The inodes of the sockets process `pid` holds, from /proc/PID/fd (socket:[N]).
pub fn socket_inodes_of(pid: u32) -> BTreeSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read fd dir")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect()
}

/// TCP state names as bpfq prints them, by number (include/net/tcp_states.h).
pub const TCP_STATES: [&str; 13] = [
    "",
    "TCP_ESTABLISHED",
    "TCP_SYN_SENT",
    "TCP_SYN_RECV",
    "TCP_FIN_WAIT1",
    "TCP_FIN_WAIT2",
    "TCP_TIME_WAIT",
    "TCP_CLOSE",
    "TCP_CLOSE_WAIT",
    "TCP_LAST_ACK",
    "TCP_LISTEN",
    "TCP_CLOSING",
    "TCP_NEW_SYN_RECV",
];

/// An address of /proc/net/{tcp,udp}[6] (8 hex digits for IPv4, 32 for IPv6), as bpfq prints it.
/// /proc/net prints an address as the hex of each 32-bit word read in host (little-endian)
/// order; the bytes of the word are the address bytes.
pub fn proc_address(hex: &str) -> String {
    let word = |i: usize| u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).expect("hex address");
    if hex.len() == 8 {
        return Ipv4Addr::from(word(0).to_le_bytes()).to_string();
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(4).enumerate() {
        chunk.copy_from_slice(&word(i).to_le_bytes());
    }
    Ipv6Addr::from(bytes).to_string()
}

/// Rows of a /proc/net/{tcp,tcp6,udp,udp6} file (`path`: /proc/net/tcp, or /proc/PID/net/tcp
/// for the namespace of process PID) in bpfq's column order and rendering: family (10 for
/// the files ending in 6), src, sport, dst, dport, state, tx_queue, rx_queue, uid, inode. The
/// family is named as bpfq names it: `inet`, or `inet6` for the files ending in 6.
pub fn full_rows(path: &str) -> Vec<Vec<String>> {
    let family = if path.ends_with('6') { "inet6" } else { "inet" };
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let hex = |h: &str| u64::from_str_radix(h, 16).expect("hex").to_string();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (src, sport) = f[1].split_once(':').expect("local address");
            let (dst, dport) = f[2].split_once(':').expect("remote address");
            let (tx, rx) = f[4].split_once(':').expect("queues");
            let state = usize::from_str_radix(f[3], 16).expect("hex state");
            let state = TCP_STATES
                .get(state)
                .unwrap_or_else(|| panic!("unknown TCP state {state}"));
            vec![
                family.to_string(),
                proc_address(src),
                hex(sport),
                proc_address(dst),
                hex(dport),
                state.to_string(),
                hex(tx),
                hex(rx),
                f[7].to_string(),
                f[9].to_string(),
            ]
        })
        .collect()
}

/// The rows of `full_rows` as (inode, [family, src, sport, dst, dport, state]).
pub fn rows(path: &str) -> Vec<(String, Vec<String>)> {
    full_rows(path)
        .into_iter()
        .map(|mut row| {
            let inode = row.pop().expect("inode column");
            row.truncate(6);
            (inode, row)
        })
        .collect()
}

/// Compares bpfq's rows with /proc's socket by socket, reporting the first few differences.
pub fn assert_same_sockets(
    what: &str,
    got: &BTreeMap<String, Vec<String>>,
    expected: &BTreeMap<String, Vec<String>>,
) {
    let missing: Vec<&String> = expected.keys().filter(|i| !got.contains_key(*i)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} sockets missing from bpfq, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );
    let extra: Vec<&String> = got.keys().filter(|i| !expected.contains_key(*i)).collect();
    assert!(
        extra.is_empty(),
        "{what}: bpfq lists sockets /proc does not: {extra:?}"
    );
    let differing: Vec<(&String, &Vec<String>, &Vec<String>)> = expected
        .iter()
        .filter(|(inode, row)| got[*inode] != **row)
        .map(|(inode, row)| (inode, &got[inode], row))
        .take(5)
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: rows differ (inode, bpfq, /proc): {differing:?}"
    );
}
