//! Kernel tests of the socket targets (tcp, udp, unix, netlink): each test opens its own sockets
//! on loopback (or a child process that holds them), runs the stdlib columns through the real
//! kernel and compares the rows with an independent oracle: /proc/net/{tcp,tcp6,udp,udp6,unix,
//! netlink} and `ss`.

use crate::common;

use common::*;
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::proc_net::full_rows;

/// Rows of `from TARGET select COLUMNS where sport in PORTS or dport in PORTS`, as a set.
fn bpfq_inet_rows(target: &str, columns: &str, ports: &[u16]) -> BTreeSet<Vec<String>> {
    let list = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let query =
        format!("from {target} select {columns} where sport in ({list}) or dport in ({list})");
    query_csv(&query, &[]).1.into_iter().collect()
}

/// The /proc rows whose local or remote port is one of `ports`, as a set.
fn proc_rows_of(files: &[&str], ports: &[u16]) -> BTreeSet<Vec<String>> {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    files
        .iter()
        .flat_map(|f| full_rows(&format!("/proc/net/{f}")))
        .filter(|row| ports.contains(&row[2]) || ports.contains(&row[4]))
        .collect()
}

/// Polls until `ready` holds (socket state changes such as TIME_WAIT are asynchronous).
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The inode of a socket file descriptor of this process, from /proc/self/fd (socket:[N]).
fn socket_inode(fd: &impl AsRawFd) -> String {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("fd link");
    let link = link.to_string_lossy();
    link.strip_prefix("socket:[")
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a socket: {link}"))
        .to_string()
}

/// A listener on `address` (port 0: the kernel picks one) with one accepted connection:
/// (listener, its port, client, server side).
fn listener_with_a_connection(address: &str) -> (TcpListener, u16, TcpStream, TcpStream) {
    let listener = TcpListener::bind(address).expect("listen");
    let local = listener.local_addr().unwrap();
    let client = TcpStream::connect(local).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (listener, local.port(), client, server)
}

const INET_COLUMNS: &str = "family, src, sport, dst, dport, state, tx_queue, rx_queue, uid, inode";

#[test]
fn tcp_rows_match_proc_net_tcp_in_every_state_we_create() {
    let _k = shared_kernel();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().unwrap().port();
    // An accepted connection with 100 unread bytes on the server side.
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    client.write_all(&[7u8; 100]).expect("send");
    // A connection closed by the client first: the client side ends in TIME_WAIT.
    let closing = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (closed_by_peer, _) = listener.accept().expect("accept");
    let closing_port = closing.local_addr().unwrap().port();
    drop(closing);
    drop(closed_by_peer);
    // A connection left in the accept queue: the listener's rx_queue is 1.
    let _waiting = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    wait_until("TIME_WAIT and 100 queued bytes", || {
        let rows = proc_rows_of(&["tcp"], &[port]);
        rows.iter()
            .any(|r| r[2] == closing_port.to_string() && r[5] == "TCP_TIME_WAIT")
            && rows.iter().any(|r| r[7] == "100")
            && rows.iter().any(|r| r[5] == "TCP_LISTEN" && r[7] == "1")
    });
    let expected = proc_rows_of(&["tcp"], &[port]);
    let got = bpfq_inet_rows("tcp", INET_COLUMNS, &[port]);
    assert_eq!(got, expected, "bpfq (left) vs /proc/net/tcp (right)");
    // listener, 2 sides of the open connection, the TIME_WAIT side, the closed server side (its
    // FIN is acknowledged: FIN_WAIT2 as a timewait socket or gone) and the queued pair.
    assert!(got.len() >= 5, "{got:?}");
    assert!(got.iter().any(|r| r[5] == "TCP_TIME_WAIT" && r[9] == "0"));
    let server_row = got
        .iter()
        .find(|r| r[9] == socket_inode(&server))
        .expect("the accepted socket by its inode");
    assert_eq!(server_row[7], "100", "unread bytes: {server_row:?}");
    let client_row = got
        .iter()
        .find(|r| r[9] == socket_inode(&client))
        .expect("the client socket by its inode");
    assert_eq!(client_row[5], "TCP_ESTABLISHED");
}

#[test]
fn tcp_listener_queues_match_ss() {
    let _k = shared_kernel();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().unwrap().port();
    let _a = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let _b = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let ss_line = || {
        let out = Command::new("ss")
            .args(["-tlnH", "sport", "=", &format!(":{port}")])
            .output()
            .expect("ss runs");
        stdout(&out)
    };
    wait_until("2 connections queued", || {
        ss_line().split_whitespace().nth(1) == Some("2")
    });
    // ss -tln: State Recv-Q Send-Q Local:Port Peer:Port; for listeners Recv-Q is the accept
    // queue and Send-Q the backlog limit.
    let line = ss_line();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let query = format!(
        "from tcp select src, sport, rx_queue, max_backlog, inode where state == LISTEN and sport == {port}"
    );
    let (_, rows) = query_csv(&query, &[]);
    assert_eq!(
        rows,
        vec![vec![
            "127.0.0.1".to_string(),
            port.to_string(),
            fields[1].to_string(),
            fields[2].to_string(),
            socket_inode(&listener),
        ]],
        "ss says {line}"
    );
}

/// `state == "TCP_LISTEN"` (as users of ss and SQL write it) filters as the bare member name
/// does: each form keeps exactly the /proc/net/tcp rows in those states.
#[test]
fn tcp_state_named_by_a_string_filters_like_the_bare_name() {
    let _k = shared_kernel();
    let (_listener, port, _client, _server) = listener_with_a_connection("127.0.0.1:0");
    let in_states = |states: &[&str]| -> BTreeSet<Vec<String>> {
        proc_rows_of(&["tcp"], &[port])
            .into_iter()
            .filter(|row| states.contains(&row[5].as_str()))
            .collect()
    };
    let filtered = |filter: &str| -> BTreeSet<Vec<String>> {
        let query = format!(
            "from tcp select {INET_COLUMNS} where (sport == {port} or dport == {port}) and {filter}"
        );
        query_csv(&query, &[]).1.into_iter().collect()
    };
    let listening = in_states(&["TCP_LISTEN"]);
    assert_eq!(listening.len(), 1, "{listening:?}");
    let established = in_states(&["TCP_ESTABLISHED"]);
    assert_eq!(established.len(), 2, "{established:?}");
    for filter in [
        "state == LISTEN",
        "state == \"TCP_LISTEN\"",
        "\"LISTEN\" == state",
    ] {
        assert_eq!(filtered(filter), listening, "{filter}");
    }
    for filter in [
        "state != \"TCP_LISTEN\"",
        "state in (\"ESTABLISHED\", \"TCP_CLOSE\")",
    ] {
        assert_eq!(filtered(filter), established, "{filter}");
    }
}

#[test]
fn tcp6_rows_match_proc_net_tcp6() {
    let _k = shared_kernel();
    let (_listener, port, client, _server) = listener_with_a_connection("[::1]:0");
    let expected = proc_rows_of(&["tcp6"], &[port]);
    let got = bpfq_inet_rows("tcp", INET_COLUMNS, &[port]);
    assert_eq!(got, expected, "bpfq (left) vs /proc/net/tcp6 (right)");
    assert_eq!(got.len(), 3, "listener and both sides: {got:?}");
    assert!(got
        .iter()
        .any(|r| r[0] == "inet6" && r[1] == "::1" && r[9] == socket_inode(&client)));
}

#[test]
fn udp_rows_match_proc_net_udp_and_udp6() {
    let _k = shared_kernel();
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let sender = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sender
        .connect(receiver.local_addr().unwrap())
        .expect("connect");
    sender.send(&[1u8; 300]).expect("send");
    sender.send(&[2u8; 10]).expect("send");
    let v6 = UdpSocket::bind("[::1]:0").expect("bind ::1");
    let ports = [
        receiver.local_addr().unwrap().port(),
        sender.local_addr().unwrap().port(),
        v6.local_addr().unwrap().port(),
    ];
    wait_until("2 datagrams queued", || {
        proc_rows_of(&["udp"], &ports).iter().any(|r| r[7] != "0")
    });
    let expected = proc_rows_of(&["udp"], &ports);
    let got = bpfq_inet_rows("udp", INET_COLUMNS, &ports)
        .into_iter()
        .filter(|r| r[0] == "inet")
        .collect::<BTreeSet<_>>();
    assert_eq!(got, expected, "bpfq (left) vs /proc/net/udp (right)");
    let receiver_row = got
        .iter()
        .find(|r| r[9] == socket_inode(&receiver))
        .expect("receiver by inode");
    assert_eq!(receiver_row[5], "TCP_CLOSE", "an unconnected socket");
    assert_ne!(receiver_row[7], "0", "two datagrams wait: {receiver_row:?}");
    let sender_row = got
        .iter()
        .find(|r| r[9] == socket_inode(&sender))
        .expect("sender by inode");
    assert_eq!(sender_row[5], "TCP_ESTABLISHED", "a connected socket");
    assert_eq!(sender_row[3], "127.0.0.1");

    let expected6 = proc_rows_of(&["udp6"], &ports);
    let got6 = bpfq_inet_rows("udp", INET_COLUMNS, &ports)
        .into_iter()
        .filter(|r| r[0] == "inet6")
        .collect::<BTreeSet<_>>();
    assert_eq!(got6, expected6, "bpfq (left) vs /proc/net/udp6 (right)");
    assert_eq!(got6.len(), 1);
    assert!(got6
        .iter()
        .all(|r| r[1] == "::1" && r[9] == socket_inode(&v6)));
}

/// A temporary directory for socket files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("bpfq-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ss -xa` as (type, state, path, inode, peer inode) in bpfq's rendering, keyed by inode.
fn ss_unix_rows() -> Vec<Vec<String>> {
    let out = Command::new("ss").args(["-xaH"]).output().expect("ss runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Netid State Recv-Q Send-Q LocalPath LocalInode PeerPath PeerInode
            if f.len() != 8 {
                return None;
            }
            let kind = match f[0] {
                "u_str" => "SOCK_STREAM",
                "u_dgr" => "SOCK_DGRAM",
                "u_seq" => "SOCK_SEQPACKET",
                _ => return None,
            };
            let state = match f[1] {
                "ESTAB" => "TCP_ESTABLISHED",
                "LISTEN" => "TCP_LISTEN",
                "UNCONN" => "TCP_CLOSE",
                other => other,
            };
            let path = if f[4] == "*" { "" } else { f[4] };
            let peer = if f[7] == "0" { "" } else { f[7] };
            Some(vec![
                kind.to_string(),
                state.to_string(),
                path.to_string(),
                f[5].to_string(),
                peer.to_string(),
            ])
        })
        .collect()
}

#[test]
fn unix_rows_match_ss_and_proc_net_unix() {
    let _k = shared_kernel();
    let dir = TempDir::new("unix");
    let path = dir.0.join("listener.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let client = UnixStream::connect(&path).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let (left, right) = UnixStream::pair().expect("pair");
    let datagram = UnixDatagram::bind(dir.0.join("dgram.sock")).expect("bind dgram");
    let ours: Vec<String> = [
        socket_inode(&listener),
        socket_inode(&client),
        socket_inode(&accepted),
        socket_inode(&left),
        socket_inode(&right),
        socket_inode(&datagram),
    ]
    .to_vec();
    let (header, rows) = query_csv("from unix select type, state, path, inode, peer", &[]);
    assert_eq!(header, ["type", "state", "path", "inode", "peer"]);
    let got: BTreeSet<Vec<String>> = rows.into_iter().filter(|r| ours.contains(&r[3])).collect();
    let expected: BTreeSet<Vec<String>> = ss_unix_rows()
        .into_iter()
        .filter(|r| ours.contains(&r[3]))
        .collect();
    assert_eq!(got.len(), ours.len(), "one row per socket: {got:?}");
    assert_eq!(got, expected, "bpfq (left) vs ss -xa (right)");
    let listener_path = path.to_string_lossy().to_string();
    assert!(got.contains(&vec![
        "SOCK_STREAM".to_string(),
        "TCP_LISTEN".to_string(),
        listener_path,
        socket_inode(&listener),
        String::new(),
    ]));
    // /proc/net/unix: Num RefCount Protocol Flags Type St Inode [Path]; Type is the socket type
    // number, the path is missing for unbound sockets.
    let proc_text = std::fs::read_to_string("/proc/net/unix").expect("read /proc/net/unix");
    let from_proc: BTreeSet<(String, String, String)> = proc_text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let inode = f.get(6)?.to_string();
            ours.contains(&inode).then(|| {
                let kind = match f[4] {
                    "0001" => "SOCK_STREAM",
                    "0002" => "SOCK_DGRAM",
                    other => other,
                };
                (inode, kind.to_string(), f.get(7).unwrap_or(&"").to_string())
            })
        })
        .collect();
    let from_bpfq: BTreeSet<(String, String, String)> = got
        .iter()
        .map(|r| (r[3].clone(), r[0].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        from_bpfq, from_proc,
        "bpfq (left) vs /proc/net/unix (right)"
    );
}

#[test]
fn unix_addr_len_tells_abstract_names_from_unbound_sockets() {
    let _k = shared_kernel();
    let name = format!("bpfq-abstract-{}", std::process::id());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .expect("abstract address");
    let abstract_socket = UnixDatagram::bind_addr(&address).expect("bind abstract");
    let unbound = UnixDatagram::unbound().expect("unbound socket");
    let query = format!(
        "from unix select inode, path, addr_len where inode in ({}, {}) order by addr_len",
        socket_inode(&unbound),
        socket_inode(&abstract_socket)
    );
    let (_, rows) = query_csv(&query, &[]);
    // sun_family (2 bytes) + NUL + name for the abstract socket; NULL (empty) when unbound.
    assert_eq!(
        rows,
        vec![
            vec![socket_inode(&unbound), String::new(), String::new()],
            vec![
                socket_inode(&abstract_socket),
                String::new(),
                (2 + 1 + name.len()).to_string()
            ],
        ]
    );
    let ss = stdout(&Command::new("ss").args(["-xaH"]).output().expect("ss"));
    assert!(
        ss.lines()
            .any(|l| l.contains(&format!("@{name} {} ", socket_inode(&abstract_socket)))),
        "ss shows @{name}:\n{ss}"
    );
}

/// /proc/net/netlink rows as (protocol, portid, groups, rmem, wmem, inode), NULL groups as 0.
fn proc_netlink_rows() -> BTreeSet<Vec<String>> {
    let text = std::fs::read_to_string("/proc/net/netlink").expect("read /proc/net/netlink");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let groups = u32::from_str_radix(f[3], 16).expect("hex groups");
            vec![
                f[1].to_string(),
                f[2].to_string(),
                groups.to_string(),
                f[4].to_string(),
                f[5].to_string(),
                f[9].to_string(),
            ]
        })
        .collect()
}

#[test]
fn netlink_rows_match_proc_net_netlink() {
    let _k = shared_kernel();
    // `ip monitor` holds an NETLINK_ROUTE socket subscribed to the link, address and route groups.
    let monitor = KillOnDrop(
        Command::new("ip")
            .args(["monitor", "link", "address"])
            .stdout(Stdio::null())
            .spawn()
            .expect("ip monitor"),
    );
    let fd_dir = format!("/proc/{}/fd", monitor.pid());
    let mut inodes = Vec::new();
    wait_until("ip monitor's sockets", || {
        inodes = std::fs::read_dir(&fd_dir)
            .map(|dir| {
                dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                    .filter_map(|l| {
                        let l = l.to_string_lossy().to_string();
                        Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        proc_netlink_rows()
            .iter()
            .any(|r| inodes.contains(&r[5]) && r[2] != "0")
    });
    let (header, rows) = query_csv(
        "from netlink select protocol, portid, groups, rmem, wmem, inode",
        &[],
    );
    assert_eq!(
        header,
        ["protocol", "portid", "groups", "rmem", "wmem", "inode"]
    );
    let got: BTreeSet<Vec<String>> = rows
        .into_iter()
        .map(|mut r| {
            if r[2].is_empty() {
                r[2] = "0".to_string(); // NULL: no group bitmap; /proc prints 0
            }
            r
        })
        .collect();
    let expected = proc_netlink_rows();
    // Our sockets and the kernel's own (portid 0) are stable; other processes may come and go.
    // A kernel socket's queues fill while it answers a request (a sock_diag socket while any
    // `ss` runs), so only our sockets' rmem and wmem are compared.
    let stable = |rows: &BTreeSet<Vec<String>>| -> BTreeSet<Vec<String>> {
        rows.iter()
            .filter(|r| inodes.contains(&r[5]) || r[1] == "0")
            .map(|r| {
                let mut r = r.clone();
                if !inodes.contains(&r[5]) {
                    r[3] = "-".into();
                    r[4] = "-".into();
                }
                r
            })
            .collect()
    };
    assert_eq!(
        stable(&got),
        stable(&expected),
        "bpfq (left) vs /proc/net/netlink (right)"
    );
    let subscribed = got
        .iter()
        .find(|r| inodes.contains(&r[5]) && r[2] != "0")
        .expect("ip monitor's subscribed socket");
    assert_eq!(subscribed[0], "0", "NETLINK_ROUTE: {subscribed:?}");
    assert_eq!(
        subscribed[1],
        monitor.pid().to_string(),
        "portid is the pid"
    );
}
