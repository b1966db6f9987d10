//! Kernel tests of the tcp and udp targets at scale: a python3 child holds about 6,000 loopback
//! TCP sockets and 3,300 UDP sockets, and the rows bpfq returns for them (found by the inodes of
//! the child's fds) are compared with /proc/net/{tcp,tcp6,udp,udp6}, an independent view: every
//! socket present exactly once, the same addresses, ports and states, and counts that equal
//! what the test opened.

use crate::common;

use common::proc_net::{self, assert_same_sockets, socket_inodes_of};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 3000;
const UDP4_SOCKETS: usize = 3000;
const UDP6_SOCKETS: usize = 300;

/// The child holding the sockets, with what it reported: the listener's port and the loopback
/// address (one of 127/8, unique to this run) every IPv4 socket but the clients is bound to.
struct Holder {
    child: KillOnDrop,
    address: String,
    listener_port: u16,
    /// The inodes of the child's socket fds (/proc/PID/fd), one per socket it opened.
    inodes: BTreeSet<String>,
}

impl Holder {
    fn spawn() -> Holder {
        let address = unused_loopback_address();
        let script = format!(
            "import os,resource,socket,sys\n\
             soft,hard=resource.getrlimit(resource.RLIMIT_NOFILE)\n\
             resource.setrlimit(resource.RLIMIT_NOFILE,(hard,hard))\n\
             listener=socket.socket(socket.AF_INET,socket.SOCK_STREAM)\n\
             listener.bind(('{address}',0))\n\
             listener.listen(4096)\n\
             held=[listener]\n\
             for _ in range({CONNECTIONS}):\n\
             \x20   client=socket.create_connection(listener.getsockname())\n\
             \x20   server,_=listener.accept()\n\
             \x20   held+=[client,server]\n\
             for _ in range({UDP4_SOCKETS}):\n\
             \x20   u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             \x20   u.bind(('{address}',0))\n\
             \x20   held.append(u)\n\
             for _ in range({UDP6_SOCKETS}):\n\
             \x20   u=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n\
             \x20   u.bind(('::1',0))\n\
             \x20   held.append(u)\n\
             print('ready',listener.getsockname()[1],flush=True)\n\
             sys.stdin.read()\n"
        );
        let mut child = spawn_python(&[], &["-c", &script]);
        let listener_port = ready_port(&child.first_line());
        let inodes = socket_inodes_of(child.pid());
        assert_eq!(
            inodes.len(),
            2 * CONNECTIONS + 1 + UDP4_SOCKETS + UDP6_SOCKETS,
            "the holder's fds are distinct sockets"
        );
        Holder {
            child,
            address,
            listener_port,
            inodes,
        }
    }

    /// Ends the test: the child still holds the sockets it held at the start (so none of them
    /// came or went while bpfq and /proc were read), then it is killed by pid.
    fn finish(self) {
        assert_eq!(
            socket_inodes_of(self.child.pid()),
            self.inodes,
            "the holder's sockets stayed the same"
        );
    }
}

/// A 127/8 address (all of them are local on lo) no TCP or UDP socket uses, not even a
/// time-wait one left by an earlier holder: it tells our sockets from the rest.
fn unused_loopback_address() -> String {
    let pid = std::process::id();
    let in_use: BTreeSet<String> = ["tcp", "udp"]
        .iter()
        .flat_map(|file| proc_rows(file))
        .flat_map(|(_, row)| [row[1].clone(), row[3].clone()])
        .collect();
    (0..256)
        .map(|attempt| {
            format!(
                "127.{}.{}.{}",
                77 + attempt % 100,
                pid % 256,
                attempt / 100 + 1
            )
        })
        .find(|address| !in_use.contains(address))
        .expect("a free loopback address")
}

/// Rows of /proc/net/FILE, the test's own namespace.
fn proc_rows(file: &str) -> Vec<(String, Vec<String>)> {
    proc_net::rows(&format!("/proc/net/{file}"))
}

/// The rows of `files` for the holder's sockets, keyed by inode. /proc/net resumes each read()
/// by position in the hash table, so sockets other processes on the machine open or close
/// meanwhile can make it skip or repeat one of ours: it is read again until it lists each of
/// ours exactly once (the oracle must be right before bpfq is judged by it).
fn proc_rows_of_ours(files: &[&str], ours: &BTreeSet<String>) -> BTreeMap<String, Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut rows = BTreeMap::new();
        let mut repeated = 0;
        for (inode, row) in files.iter().flat_map(|file| proc_rows(file)) {
            if ours.contains(&inode) && rows.insert(inode, row).is_some() {
                repeated += 1;
            }
        }
        if repeated == 0 && rows.len() == ours.len() {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "/proc/net/{files:?} never listed our {} sockets once each ({} listed, {repeated} repeated)",
            ours.len(),
            rows.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// bpfq's rows for the holder's sockets, keyed by inode; `columns` ends with `inode`. Fails if
/// bpfq lists one of them twice.
fn bpfq_rows_of_ours(
    query: &str,
    extra: &[&str],
    ours: &BTreeSet<String>,
) -> BTreeMap<String, Vec<String>> {
    let (_, rows) = query_csv(query, extra);
    let mut by_inode = BTreeMap::new();
    let mut repeated = Vec::new();
    for mut row in rows {
        let inode = row.pop().expect("inode column");
        if ours.contains(&inode) {
            if let Some(earlier) = by_inode.insert(inode.clone(), row) {
                repeated.push((inode, earlier));
            }
        }
    }
    assert!(
        repeated.is_empty(),
        "{query}: {} of our sockets listed twice, e.g. {:?}",
        repeated.len(),
        &repeated[..repeated.len().min(3)]
    );
    by_inode
}

/// The inodes of `ours` that /proc lists in `files`.
fn ours_in(files: &[&str], ours: &BTreeSet<String>) -> BTreeSet<String> {
    files
        .iter()
        .flat_map(|file| proc_rows(file))
        .map(|(inode, _)| inode)
        .filter(|inode| ours.contains(inode))
        .collect()
}

/// The single number a `select count(*)` query prints.
fn count_of(query: &str) -> usize {
    let (_, rows) = query_csv(query, &[]);
    assert_eq!(rows.len(), 1, "{query}: one row");
    rows[0][0].parse().expect("count")
}

#[test]
fn six_thousand_tcp_sockets_each_listed_once_as_proc_net_tcp_lists_them() {
    // Exclusive: parallel tests of this binary opening and closing sockets would make
    // /proc/net/tcp (which resumes each read by position) skip some of ours.
    let _k = exclusive_kernel();
    let holder = Holder::spawn();
    let tcp_inodes = ours_in(&["tcp"], &holder.inodes);
    assert_eq!(tcp_inodes.len(), 2 * CONNECTIONS + 1, "/proc/net/tcp");
    let expected = proc_rows_of_ours(&["tcp"], &tcp_inodes);
    let query = "from tcp select family, src, sport, dst, dport, state, inode";
    let got = bpfq_rows_of_ours(query, &[], &tcp_inodes);
    assert_same_sockets("tcp", &got, &expected);

    // Counts computed in the kernel by grouping, against what the holder opened.
    let (_, by_state) = query_csv(
        &format!(
            "from tcp select state, count(*) where src == \"{0}\" or dst == \"{0}\" group by state",
            holder.address
        ),
        &[],
    );
    let by_state: BTreeSet<Vec<String>> = by_state.into_iter().collect();
    let opened: BTreeSet<Vec<String>> = [
        vec!["TCP_ESTABLISHED".to_string(), (2 * CONNECTIONS).to_string()],
        vec!["TCP_LISTEN".to_string(), "1".to_string()],
    ]
    .into_iter()
    .collect();
    assert_eq!(
        by_state, opened,
        "sockets by state (bpfq left, opened right)"
    );
    // The listener and every accepted socket share the listener's address and port (a
    // time-wait socket elsewhere may have the same port on another address).
    let on_listener_port = count_of(&format!(
        "from tcp select count(*) where sport == {} and src == \"{}\"",
        holder.listener_port, holder.address
    ));
    assert_eq!(on_listener_port, CONNECTIONS + 1, "listener plus accepted");
    holder.finish();
}

#[test]
fn three_thousand_udp_sockets_each_listed_once_as_proc_net_udp_lists_them() {
    // Exclusive: parallel tests of this binary opening and closing sockets would make
    // /proc/net/udp (which resumes each read by position) skip some of ours.
    let _k = exclusive_kernel();
    let holder = Holder::spawn();
    let udp4 = ours_in(&["udp"], &holder.inodes);
    let udp6 = ours_in(&["udp6"], &holder.inodes);
    assert_eq!(udp4.len(), UDP4_SOCKETS, "/proc/net/udp");
    assert_eq!(udp6.len(), UDP6_SOCKETS, "/proc/net/udp6");
    let udp: BTreeSet<String> = udp4.union(&udp6).cloned().collect();
    // src holds each socket's address in its family, as /proc/net/udp and udp6 list them.
    let expected: BTreeMap<String, Vec<String>> = proc_rows_of_ours(&["udp", "udp6"], &udp)
        .into_iter()
        .map(|(inode, row)| (inode, row[..3].to_vec()))
        .collect();
    let got: BTreeMap<String, Vec<String>> =
        bpfq_rows_of_ours("from udp select family, src, sport, inode", &[], &udp);
    assert_same_sockets("udp", &got, &expected);

    let on_our_address = count_of(&format!(
        "from udp select count(*) where src == \"{}\"",
        holder.address
    ));
    assert_eq!(on_our_address, UDP4_SOCKETS, "IPv4 sockets on our address");
    // The IPv6 sockets share ::1 with whatever else runs here: count the IPv6 sockets in our
    // port range and compare with /proc/net/udp6's count of the same range, which includes
    // ours.
    let ports: Vec<u16> = expected
        .iter()
        .filter(|(_, row)| row[0] == "inet6")
        .map(|(_, row)| row[2].parse().expect("port"))
        .collect();
    let (low, high) = (ports.iter().min().unwrap(), ports.iter().max().unwrap());
    let in_range = || {
        proc_rows("udp6")
            .iter()
            .filter(|(_, row)| (*low..=*high).contains(&row[2].parse::<u16>().unwrap()))
            .count()
    };
    let before = in_range();
    let counted = count_of(&format!(
        "from udp select count(*) where family == inet6 and sport >= {low} and sport <= {high}"
    ));
    let after = in_range();
    assert!(
        before >= UDP6_SOCKETS,
        "/proc/net/udp6 lists ours in the range"
    );
    assert!(
        counted == before || counted == after,
        "IPv6 sockets in ports {low}..={high}: bpfq {counted}, /proc/net/udp6 {before} then {after}"
    );
    holder.finish();
}
