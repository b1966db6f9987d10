//! Kernel test at scale: 40,005 TCP sockets (20,001 loopback connections and three listeners),
//! held by three python3 children (the fd hard limit is 20,000 per process) inside a network
//! namespace the test creates, so nothing else on the machine opens or closes a socket there.
//! bpfq's rows are compared socket by socket with /proc/PID/net/tcp{,6} of a holder (the same
//! namespace, an independent view): every socket exactly once, the same addresses, ports and
//! states; and the kernel-grouped counts by state equal what the test opened.

use crate::common;

use common::netns::Namespace;
use common::proc_net::{self, assert_same_sockets, socket_inodes_of};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Instant;

const HOLDERS: usize = 3;
/// Three holders of 6,667 connections: 20,001 connections, 40,005 sockets with the listeners.
const CONNECTIONS_PER_HOLDER: usize = 6_667;
const SOCKETS: usize = HOLDERS * (2 * CONNECTIONS_PER_HOLDER + 1);

/// One python3 child holding loopback connections in the namespace; killed by pid on drop.
struct TcpHolder {
    child: KillOnDrop,
    listener_port: u16,
    /// The inodes of the child's socket fds, one per socket it opened.
    inodes: BTreeSet<String>,
}

/// Starts every holder first, then waits for each (they fill the namespace in parallel).
fn spawn_holders(ns: &Namespace) -> Vec<TcpHolder> {
    let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/hold_tcp.py");
    let children: Vec<KillOnDrop> = (0..HOLDERS)
        .map(|_| {
            spawn_python(
                &["ip", "netns", "exec", &ns.0],
                &[helper, &CONNECTIONS_PER_HOLDER.to_string()],
            )
        })
        .collect();
    children
        .into_iter()
        .map(|mut child| {
            let listener_port = ready_port(&child.first_line());
            // `ip netns exec` execs python3: the pid is the holder's own.
            let inodes = socket_inodes_of(child.pid());
            assert_eq!(
                inodes.len(),
                2 * CONNECTIONS_PER_HOLDER + 1,
                "the holder's fds are distinct sockets"
            );
            TcpHolder {
                child,
                listener_port,
                inodes,
            }
        })
        .collect()
}

/// Widens the namespace's ephemeral port range (its own sysctl), read back to be sure.
fn widen_port_range(ns: &Namespace) {
    let status = Command::new("ip")
        .args(["netns", "exec", &ns.0, "sysctl", "-q", "-w"])
        .arg("net.ipv4.ip_local_port_range=1024 65535")
        .status()
        .expect("sysctl");
    assert!(status.success(), "sysctl ip_local_port_range in {}", ns.0);
}

#[test]
fn forty_thousand_tcp_sockets_each_listed_once_as_proc_net_tcp_lists_them() {
    // Alone: the TCP hash table is one for all namespaces, so 40,000 sockets would lengthen
    // every other kernel test's tcp walk and the fd and memory load would slow them all.
    let _k = exclusive_kernel();
    let started = Instant::now();
    let ns = Namespace::create("tcp40k");
    widen_port_range(&ns);
    let holders = spawn_holders(&ns);
    let ours: BTreeSet<String> = holders
        .iter()
        .flat_map(|h| h.inodes.iter().cloned())
        .collect();
    assert_eq!(ours.len(), SOCKETS, "distinct sockets across the holders");

    // /proc/PID/net is the namespace of process PID: only our sockets live there.
    let pid = holders[0].child.pid();
    let mut expected = BTreeMap::new();
    for file in ["tcp", "tcp6"] {
        for (inode, row) in proc_net::rows(&format!("/proc/{pid}/net/{file}")) {
            assert!(
                expected.insert(inode.clone(), row).is_none(),
                "/proc lists {inode} twice"
            );
        }
    }
    assert_eq!(
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        ours,
        "/proc/{pid}/net/tcp lists exactly the holders' sockets"
    );

    let netns = format!("\"/run/netns/{}\"", ns.0);
    let query =
        format!("from tcp(netns = {netns}) select family, src, sport, dst, dport, state, inode");
    let (_, rows) = query_csv(&query, &[]);
    let mut got = BTreeMap::new();
    for mut row in rows {
        let inode = row.pop().expect("inode column");
        if let Some(earlier) = got.insert(inode.clone(), row) {
            panic!("bpfq lists socket {inode} twice: {earlier:?}");
        }
    }
    assert_same_sockets("40k tcp", &got, &expected);

    // Counted in the kernel by grouping, against what the test opened.
    let (_, by_state) = query_csv(
        &format!("from tcp(netns = {netns}) select state, count(*) group by state"),
        &[],
    );
    let by_state: BTreeSet<Vec<String>> = by_state.into_iter().collect();
    let opened: BTreeSet<Vec<String>> = [
        vec![
            "TCP_ESTABLISHED".to_string(),
            (2 * HOLDERS * CONNECTIONS_PER_HOLDER).to_string(),
        ],
        vec!["TCP_LISTEN".to_string(), HOLDERS.to_string()],
    ]
    .into_iter()
    .collect();
    assert_eq!(
        by_state, opened,
        "sockets by state (bpfq left, opened right)"
    );
    let listeners =
        format!("from tcp(netns = {netns}) select sport where state == TCP_LISTEN order by sport");
    let (_, ports) = query_csv(&listeners, &[]);
    let mut listener_ports: Vec<String> = holders
        .iter()
        .map(|h| h.listener_port.to_string())
        .collect();
    listener_ports.sort_by_key(|port| port.parse::<u16>().unwrap());
    assert_eq!(ports.concat(), listener_ports, "the listeners' ports");

    for holder in &holders {
        assert_eq!(
            socket_inodes_of(holder.child.pid()),
            holder.inodes,
            "the holder's sockets stayed the same while bpfq and /proc were read"
        );
    }
    println!("40k tcp sockets: {:?}", started.elapsed());
}
