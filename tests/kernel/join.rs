//! Kernel tests of joins: TCP sockets this test opens on loopback, joined by bpfq (task_file's
//! program, then tcp's, hash-joined in user space on the inode) and compared with
//! /proc/self/fd (`socket:[INODE]`) and the sockets' own addresses.

use crate::common;

use common::*;
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

/// The socket inode behind descriptor `fd` of this process, from /proc/self/fd.
fn socket_inode(fd: i32) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).expect("readlink");
    let text = link.to_string_lossy();
    text.strip_prefix("socket:[")
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("fd {fd} is not a socket: {text}"))
}

struct Sockets {
    listener: TcpListener,
    client: TcpStream,
    accepted: TcpStream,
}

fn open_sockets() -> Sockets {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    Sockets {
        listener,
        client,
        accepted,
    }
}

/// (sport, dport, state) of each of our sockets, keyed by fd, as the sockets themselves say.
fn expected(s: &Sockets) -> BTreeMap<i32, (u16, u16, &'static str)> {
    let port = s.listener.local_addr().unwrap().port();
    let client_port = s.client.local_addr().unwrap().port();
    BTreeMap::from([
        (s.listener.as_raw_fd(), (port, 0, "TCP_LISTEN")),
        (s.client.as_raw_fd(), (client_port, port, "TCP_ESTABLISHED")),
        (
            s.accepted.as_raw_fd(),
            (port, client_port, "TCP_ESTABLISHED"),
        ),
    ])
}

#[test]
fn sockets_join_their_descriptors() {
    let _k = shared_kernel();
    let sockets = open_sockets();
    let me = std::process::id();
    let query = format!(
        "from task_file as f join tcp on f.inode == tcp.inode select f.fd, tcp.sport, tcp.dport, tcp.state, f.inode where f.pid == {me} order by f.fd"
    );
    let out = bpfq(&[&query, "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = csv_rows(&stdout(&out));
    let ours = expected(&sockets);
    let mut seen = BTreeMap::new();
    for row in &rows {
        let fd: i32 = row[0].parse().unwrap();
        // Other tests of this binary open and close sockets meanwhile, and a closed fd number
        // is soon reused: only the fds this test holds open are stable enough to compare.
        if ours.contains_key(&fd) {
            assert_eq!(
                row[4],
                socket_inode(fd).to_string(),
                "fd {fd}: inode vs /proc/self/fd"
            );
        }
        seen.insert(
            fd,
            (
                row[1].parse::<u16>().unwrap(),
                row[2].parse::<u16>().unwrap(),
                row[3].clone(),
            ),
        );
    }
    for (fd, (sport, dport, state)) in ours {
        assert_eq!(
            seen.get(&fd),
            Some(&(sport, dport, state.to_string())),
            "fd {fd} in {rows:?}"
        );
    }
    let fds: Vec<i32> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(
        fds.windows(2).all(|w| w[0] < w[1]),
        "ordered by fd: {fds:?}"
    );
}

#[test]
fn where_conditions_of_both_sources_apply() {
    let _k = shared_kernel();
    let sockets = open_sockets();
    let me = std::process::id();
    let port = sockets.listener.local_addr().unwrap().port();
    let query = format!(
        "from tcp join task_file on tcp.inode == task_file.inode select task_file.fd, tcp.state where tcp.sport == {port} and task_file.pid == {me}"
    );
    let out = bpfq(&[&query, "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut rows = csv_rows(&stdout(&out));
    rows.sort();
    let mut want = vec![
        vec![
            sockets.listener.as_raw_fd().to_string(),
            "TCP_LISTEN".to_string(),
        ],
        vec![
            sockets.accepted.as_raw_fd().to_string(),
            "TCP_ESTABLISHED".to_string(),
        ],
    ];
    want.sort();
    assert_eq!(rows, want, "our sockets on port {port}, nothing else");
}

#[test]
fn join_examples_show_this_process_sockets() {
    let _k = shared_kernel();
    let sockets = open_sockets();
    let me = std::process::id().to_string();
    let dir = env!("CARGO_MANIFEST_DIR");
    let port = sockets.listener.local_addr().unwrap().port().to_string();

    let path = format!("{dir}/examples/listening_processes.bpfq");
    let out = bpfq(&["-f", &path, "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = csv_rows(&stdout(&out));
    // family, src, sport, recv_q, send_q, comm, pid, fd
    // Other tests of this binary listen too: ours is the one on our port.
    let ours: Vec<_> = rows.iter().filter(|r| r[2] == port).collect();
    assert_eq!(ours.len(), 1, "one listener on port {port}: {ours:?}");
    assert_eq!(ours[0][..2], ["inet", "127.0.0.1"]);
    assert_eq!(ours[0][6], me);
    assert_eq!(ours[0][7], sockets.listener.as_raw_fd().to_string());

    let path = format!("{dir}/examples/internet_files.bpfq");
    let out = bpfq(&["-f", &path, "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = csv_rows(&stdout(&out));
    // comm, pid, fd, src, sport, dst, dport, state
    let client = rows
        .iter()
        .find(|r| r[1] == me && r[2] == sockets.client.as_raw_fd().to_string())
        .unwrap_or_else(|| panic!("client socket missing: {rows:?}"));
    assert_eq!(client[6], port, "client's dport is the listener's port");
    assert_eq!(client[7], "TCP_ESTABLISHED");
}

#[test]
fn joins_and_groups_leave_no_bpf_object() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    for query in [
        "from task_file as f join tcp on f.inode == tcp.inode select f.pid, tcp.sport",
        "from task select comm, count(*) group by comm",
    ] {
        let out = bpfq(&[query]);
        assert!(out.status.success(), "{query}: {}", stderr(&out));
        assert_objects_return_to(baseline, query);
    }
    // Output closed after the first line.
    let mut child = std::process::Command::new(bpfq_path())
        .arg("from task_file as f join tcp on f.inode == tcp.inode select f.pid, tcp.sport")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn bpfq");
    drop(child.stdout.take());
    let status = child.wait().expect("wait");
    assert!(status.code().is_some(), "bpfq ended by a signal: {status}");
    assert_objects_return_to(baseline, "join with a closed pipe");
}

#[test]
fn where_comparing_both_sources_applies_after_the_join() {
    let _k = shared_kernel();
    let sockets = open_sockets();
    let me = std::process::id();
    let port = sockets.listener.local_addr().unwrap().port();
    // The listener's dport is 0, below any fd; the accepted socket's is the client's port.
    let query = format!(
        "from task_file as f join tcp on f.inode == tcp.inode select f.fd where f.pid == {me} and tcp.sport == {port} and tcp.dport > f.fd"
    );
    let out = bpfq(&[&query, "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        csv_rows(&stdout(&out)),
        vec![vec![sockets.accepted.as_raw_fd().to_string()]]
    );
}
