//! Kernel tests of `netns = ...` on network targets: a namespace this test creates, read from
//! outside it by path and by the pid of a process inside it, compared with what the namespace
//! holds (a route the test adds, a socket the test opens) and with the host's view; and
//! `netns = all`, compared with the namespaces' inode numbers as stat(2) gives them.

use crate::common;

use common::netns::Namespace;
use common::*;
use std::process::Command;

/// Held by the tests that start TCP listeners: `netns = all` sees every namespace on the machine,
/// so another test's listener that happened to get the same port would be one row too many.
static LISTENERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn network_targets_read_another_namespace() {
    let _k = shared_kernel();
    let _listeners = LISTENERS.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Namespace::create("");
    assert!(Command::new("ip")
        .args([
            "-n",
            &ns.0,
            "-6",
            "route",
            "add",
            "2001:db8:77::/64",
            "dev",
            "lo",
            "metric",
            "321"
        ])
        .status()
        .unwrap()
        .success());
    let by_path = format!(
        "from ipv6_route(netns = \"/run/netns/{}\") select dst, dst_len, metric",
        ns.0
    );
    let out = bpfq(&[&by_path, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).lines().any(|l| l == "2001:db8:77::,64,321"),
        "{}",
        stdout(&out)
    );
    let host = bpfq(&["from ipv6_route select dst", "-o", "csv", "--no-header"]);
    assert!(
        !stdout(&host).contains("2001:db8:77::"),
        "the host namespace does not have the route"
    );

    // A listener inside the namespace, seen through the pid of the process that holds it. The
    // host may have a socket on the same port (other tests use ephemeral ports): the inode
    // tells the listener apart.
    let listener = Listener::start(Some(&ns.0), 0);
    let by_pid = format!(
        "from tcp(netns = {}) select sport, state, inode where sport == {}",
        listener.pid(),
        listener.port
    );
    let out = bpfq(&[&by_pid, "-o", "csv", "--no-header"]);
    let host = bpfq(&["from tcp select inode", "-o", "csv", "--no-header"]);
    let port = listener.port.to_string();
    drop(listener);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let row: Vec<&str> = text.trim().split(',').collect();
    assert_eq!(row[..2], [port.as_str(), "TCP_LISTEN"], "{text}");
    assert!(
        !stdout(&host).lines().any(|inode| inode == row[2]),
        "the host namespace does not have the listener {}",
        row[2]
    );
}

#[test]
fn a_missing_namespace_is_a_clear_error() {
    let _k = shared_kernel();
    let out = bpfq(&["from tcp(netns = \"/run/netns/bq_no_such_ns\") select sport"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("network namespace"),
        "{}",
        stderr(&out)
    );
}

/// A TCP listener on 127.0.0.1:`port` (0: a port the kernel picks) in namespace `ns` (the
/// host's when `None`), killed on drop.
struct Listener {
    child: KillOnDrop,
    port: u16,
}

impl Listener {
    fn start(ns: Option<&str>, port: u16) -> Listener {
        let script = format!("import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',{port}))\ns.listen()\nprint('ready',s.getsockname()[1],flush=True)\ntime.sleep(60)");
        let wrapper: &[&str] = match ns {
            Some(ns) => &["ip", "netns", "exec", ns],
            None => &[],
        };
        let mut child = spawn_python(wrapper, &["-c", &script]);
        let port = ready_port(&child.first_line());
        Listener { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// The inode number of a namespace file, as `stat -L -c %i` prints it.
fn inode_of(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect(path).ino()
}

#[test]
fn netns_all_reads_every_namespace_once() {
    let _k = shared_kernel();
    let _listeners = LISTENERS.lock().unwrap_or_else(|e| e.into_inner());
    let one = Namespace::create("a");
    let two = Namespace::create("b");
    // The same port in all three namespaces: only the netns column tells the rows apart. The
    // host's listener goes first, on a port the kernel picks free; the new namespaces have none.
    let host = Listener::start(None, 0);
    let port = host.port;
    let _l1 = Listener::start(Some(&one.0), port);
    let _l2 = Listener::start(Some(&two.0), port);
    let expected = [
        inode_of(&format!("/run/netns/{}", one.0)),
        inode_of(&format!("/run/netns/{}", two.0)),
        inode_of("/proc/self/ns/net"),
    ];
    assert!(
        expected[0] != expected[1] && expected[1] != expected[2],
        "{expected:?}"
    );

    let query = format!("from tcp(netns = all) select netns, sport, state where sport == {port} and state == LISTEN");
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut got: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    got.sort();
    let mut want: Vec<String> = expected
        .iter()
        .map(|ino| format!("{ino},{port},TCP_LISTEN"))
        .collect();
    want.sort();
    assert_eq!(got, want, "each listener once, in its own namespace");

    // `select *` shows the netns column; sort and limit apply to all namespaces' rows at once.
    let star = format!("from tcp(netns = all) where sport == {port} and state == LISTEN order by netns desc limit 2");
    let out = bpfq(&[&star, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut sorted = expected;
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let netns_values: Vec<u64> = text
        .split("\"netns\":")
        .skip(1)
        .map(|rest| {
            rest.trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(netns_values, sorted[..2].to_vec(), "{text}");

    // Every namespace the rows name is one a process or /run/netns holds (no garbage inode).
    let out = bpfq(&[
        "from netlink(netns = all) select netns",
        "-o",
        "csv",
        "--no-header",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let seen: std::collections::BTreeSet<u64> =
        stdout(&out).lines().map(|l| l.parse().unwrap()).collect();
    for ino in expected {
        assert!(seen.contains(&ino), "netlink sockets of {ino}: {seen:?}");
    }
    // A route only namespace `one` has: its row carries `one`'s inode (ipv6_route's netns
    // comes from the route's device).
    assert!(Command::new("ip")
        .args([
            "-n",
            &one.0,
            "-6",
            "route",
            "add",
            "2001:db8:78::/64",
            "dev",
            "lo"
        ])
        .status()
        .unwrap()
        .success());
    let out = bpfq(&[
        "from ipv6_route(netns = all) select netns, dst where dst_len == 64",
        "-o",
        "csv",
        "--no-header",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let routes: Vec<&str> = text
        .lines()
        .filter(|l| l.ends_with(",2001:db8:78::"))
        .collect();
    assert_eq!(routes, [format!("{},2001:db8:78::", expected[0])], "{text}");

    let explain = bpfq(&["explain", "from udp(netns = all) select sport"]);
    assert!(
        stdout(&explain).contains("every network namespace"),
        "{}",
        stdout(&explain)
    );
}

#[test]
fn unix_sockets_of_another_namespace_come_through_the_ring() {
    let _k = shared_kernel();
    let ns = Namespace::create("");
    let pairs = UnixPairs::spawn_via(&["ip", "netns", "exec", &ns.0], 2000);
    let oracle: std::collections::BTreeSet<String> =
        unix_inodes_in(&format!("/proc/{}/net/unix", pairs.pid()))
            .into_iter()
            .collect();
    let ours: std::collections::BTreeSet<String> = pairs.inodes.iter().cloned().collect();
    assert!(
        oracle.is_superset(&ours),
        "/proc/PID/net/unix lists the namespace's sockets"
    );
    // By path (no socket count to size the ring from: the default ring) and by pid (the
    // ring is sized from /proc/PID/net/protocols); both must list exactly the namespace's sockets.
    for netns in [format!("\"/run/netns/{}\"", ns.0), pairs.pid().to_string()] {
        let query = format!("from unix(netns = {netns}) select inode");
        let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
        assert!(out.status.success(), "{query}: {}", stderr(&out));
        let listed: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        let set: std::collections::BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(set.len(), listed.len(), "{query}: no socket twice");
        assert_eq!(
            set, oracle,
            "{query}: bpfq (left) vs /proc/PID/net/unix (right)"
        );
    }
    let host: Vec<String> = bpfq_ok(&["from unix select inode", "-o", "csv", "--no-header"])
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        !host.iter().any(|inode| ours.contains(inode)),
        "the host namespace does not list them"
    );
}
