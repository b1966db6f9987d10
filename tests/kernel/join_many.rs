//! Kernel tests of joins of three sources: the TCP sockets this test opens on loopback, joined
//! with their descriptors (task_file) and the process that holds them (task) — three programs,
//! then two hash joins in user space — compared with /proc and the sockets' own addresses.

use crate::common;

use common::*;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

#[test]
fn sockets_join_their_descriptors_and_their_process() {
    let _k = shared_kernel();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let me = std::process::id();
    // The third source is keyed on the second (f.pid); `tcp.uid == t.uid` compares the first
    // and the third, so it is checked once the third is joined.
    let query = |cross: &str| {
        format!(
            "from tcp join task_file as f on tcp.inode == f.inode \
             join task as t on t.pid == f.pid \
             select f.fd, tcp.sport, tcp.dport, tcp.state, t.comm, t.ppid, f.inode \
             where tcp.sport == {port} and f.pid == {me} and t.tid == t.pid and tcp.uid {cross} t.uid \
             order by f.fd"
        )
    };
    let out = bpfq(&[&query("=="), "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = csv_rows(&stdout(&out));
    let comm = std::fs::read_to_string(format!("/proc/{me}/comm")).unwrap();
    let ppid = proc_status_first(me, "PPid");
    let client_port = client.local_addr().unwrap().port().to_string();
    let row = |fd: i32, dport: &str, state: &str| {
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        vec![
            fd.to_string(),
            port.to_string(),
            dport.to_string(),
            state.to_string(),
            comm.trim().to_string(),
            ppid.clone(),
            link.to_string_lossy()
                .trim_start_matches("socket:[")
                .trim_end_matches(']')
                .to_string(),
        ]
    };
    let mut want = vec![
        row(listener.as_raw_fd(), "0", "TCP_LISTEN"),
        row(accepted.as_raw_fd(), &client_port, "TCP_ESTABLISHED"),
    ];
    want.sort_by_key(|r| r[0].parse::<i32>().unwrap());
    assert_eq!(
        rows, want,
        "one row per socket on port {port}: its fd and inode as /proc/self/fd, its process as /proc"
    );
    // The same uid on both sides: the opposite comparison keeps nothing.
    let none = bpfq(&[&query("!="), "-o", "csv"]);
    assert!(none.status.success(), "{}", stderr(&none));
    assert_eq!(csv_rows(&stdout(&none)), Vec::<Vec<String>>::new());
}

#[test]
fn a_join_of_three_sources_leaves_no_bpf_object() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    let out = bpfq(&[
        "from task_file as f join tcp on f.inode == tcp.inode join task as t on t.pid == f.pid select t.comm, tcp.sport limit 3",
        "-o",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_objects_return_to(baseline, "after a join of three sources");
}
