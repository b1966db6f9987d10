//! `--watch --changes`: each run prints the rows added and removed (and, with `--key`, changed)
//! since the one before, checked against processes and loopback sockets this test starts and
//! stops between runs (their states read back from /proc/net/tcp); bad `--changes` and `--key`
//! options are coded diagnostics that load nothing.

use crate::common;

use common::*;
use std::io::{BufRead, BufReader, Lines};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A `bpfq --watch 1 --changes -o jsonl` run whose change lines are read as they come.
struct Watcher {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    started: u64,
}

impl Watcher {
    fn start(runs: u32, extra: &[&str], query: &str) -> Watcher {
        let runs = runs.to_string();
        let mut args = vec!["--watch", "1", "--count", &runs, "--changes", "-o", "jsonl"];
        args.extend(extra);
        args.push(query);
        let started = unix_now();
        let mut child = Command::new(bpfq_path())
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("bpfq runs");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Watcher {
            child,
            lines,
            started,
        }
    }

    /// The next `n` changes, as (action, the row's own fields), after checking their time.
    fn next(&mut self, n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|_| {
                let line = self.lines.next().expect("a change line").expect("text");
                let (action, unix_time, row) = split_change(&line);
                assert!(
                    (self.started..=unix_now()).contains(&unix_time),
                    "unix_time {unix_time} is the time of a run: {line}"
                );
                (action, row)
            })
            .collect()
    }

    /// Waits for bpfq to end; nothing more was printed.
    fn finish(mut self) {
        let rest: Vec<String> = self.lines.by_ref().map(|l| l.expect("text")).collect();
        assert!(self.child.wait().expect("bpfq ends").success());
        assert_eq!(rest, Vec::<String>::new(), "no other change, no empty line");
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

/// `{"action":A,"time":T,"unix_time":U,REST}` -> (A, U, `{REST}`), with T checked to be U in
/// RFC 3339 as GNU date writes it, plus milliseconds.
fn split_change(line: &str) -> (String, u64, String) {
    let field = |text: &str, name: &str| -> (String, usize) {
        let key = format!("\"{name}\":");
        let start = text
            .find(&key)
            .unwrap_or_else(|| panic!("{name} in {line}"))
            + key.len();
        let end = start + text[start..].find(',').expect("more fields");
        (text[start..end].trim_matches('"').to_string(), end + 1)
    };
    let (action, _) = field(line, "action");
    let (time, _) = field(line, "time");
    let (unix_time, rest) = field(line, "unix_time");
    let unix_time: u64 = unix_time.parse().expect("unix_time is a number");
    let date = Command::new("date")
        .args(["-u", "-d", &format!("@{unix_time}"), "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .expect("date runs");
    let seconds = String::from_utf8_lossy(&date.stdout).trim().to_string();
    assert_eq!(time.len(), "2026-12-08T05:01:02.123Z".len(), "{line}");
    assert!(
        time.starts_with(&format!("{seconds}.")) && time.ends_with('Z'),
        "time {time} is unix_time {unix_time} ({seconds}) to the millisecond"
    );
    (action, unix_time, format!("{{{}", &line[rest..]))
}

fn change(action: &str, row: String) -> (String, String) {
    (action.to_string(), row)
}

fn task_row(named: &Named) -> String {
    format!(r#"{{"pid":{},"comm":"{}"}}"#, named.pid(), named.name)
}

#[test]
fn processes_started_and_stopped_between_runs_are_added_and_removed() {
    let _k = shared_kernel();
    let names = ["chgA", "chgB", "chgC"].map(unique_name);
    let query = format!(
        "from task select pid, comm where comm == \"{}\" or comm == \"{}\" or comm == \"{}\"",
        names[0], names[1], names[2]
    );
    let a = Named::spawn(&names[0]);
    let b = Named::spawn(&names[1]);
    let mut watcher = Watcher::start(3, &[], &query);
    let mut first = watcher.next(2);
    first.sort();
    let mut expected = vec![
        change("snapshot", task_row(&a)),
        change("snapshot", task_row(&b)),
    ];
    expected.sort();
    assert_eq!(first, expected, "the first run is a snapshot");

    let a_row = task_row(&a);
    drop(a);
    let c = Named::spawn(&names[2]);
    assert_eq!(
        watcher.next(2),
        vec![change("removed", a_row), change("added", task_row(&c))],
        "removed rows first"
    );

    let mut gone = vec![
        change("removed", task_row(&b)),
        change("removed", task_row(&c)),
    ];
    drop((b, c));
    let mut third = watcher.next(2);
    third.sort();
    gone.sort();
    assert_eq!(third, gone);
    watcher.finish();
}

/// A loopback address of this test process only, so every socket on it is the test's.
fn own_address() -> Ipv4Addr {
    let pid = std::process::id();
    Ipv4Addr::new(127, 201, (pid >> 8) as u8, pid as u8)
}

/// The state number /proc/net/tcp gives the socket from `local` to `remote` (0.0.0.0:0 for a
/// listener), if it lists it.
fn proc_tcp_state(local: SocketAddrV4, remote: SocketAddrV4) -> Option<u8> {
    let hex = |a: SocketAddrV4| {
        format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(a.ip().octets()),
            a.port()
        )
    };
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()) && fields.get(2) == Some(&remote.as_str()))
            .then(|| u8::from_str_radix(fields[3], 16).expect("a hex state"))
    })
}

fn wait_for_state(local: SocketAddrV4, remote: SocketAddrV4, state: u8) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while proc_tcp_state(local, remote) != Some(state) {
        assert!(
            Instant::now() < deadline,
            "{local} -> {remote} never in state {state}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn v4(address: std::net::SocketAddr) -> SocketAddrV4 {
    match address {
        std::net::SocketAddr::V4(address) => address,
        other => panic!("an IPv4 socket, got {other}"),
    }
}

fn tcp_row(local: SocketAddrV4, remote: SocketAddrV4, state: &str) -> String {
    format!(
        r#"{{"src":"{}","sport":{},"dst":"{}","dport":{},"state":"{state}"}}"#,
        local.ip(),
        local.port(),
        remote.ip(),
        remote.port()
    )
}

/// A closed socket in FIN_WAIT2 is a time-wait socket (the kernel's state, as bpfq shows it:
/// TCP_TIME_WAIT) that /proc/net/tcp lists by its substate, FIN_WAIT2.
const TCP_FIN_WAIT2: u8 = 5;
const TCP_CLOSE_WAIT: u8 = 8;

#[test]
fn with_a_key_a_socket_changing_state_is_one_changed_row() {
    let _k = shared_kernel();
    let address = own_address();
    let query = format!(
        "from tcp select src, sport, dst, dport, state where src == \"{address}\" or dst == \"{address}\""
    );
    let nowhere = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
    let listener = TcpListener::bind((address, 0)).expect("listen");
    let lonely = TcpListener::bind((address, 0)).expect("listen");
    let mut client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let (listening, lonely_at) = (
        v4(listener.local_addr().unwrap()),
        v4(lonely.local_addr().unwrap()),
    );
    let (client_at, server_at) = (
        v4(client.local_addr().unwrap()),
        v4(server.local_addr().unwrap()),
    );

    let mut watcher = Watcher::start(2, &["--key", "src,sport,dst,dport"], &query);
    let mut first = watcher.next(4);
    first.sort();
    let mut expected = vec![
        change("snapshot", tcp_row(listening, nowhere, "TCP_LISTEN")),
        change("snapshot", tcp_row(lonely_at, nowhere, "TCP_LISTEN")),
        change("snapshot", tcp_row(client_at, server_at, "TCP_ESTABLISHED")),
        change("snapshot", tcp_row(server_at, client_at, "TCP_ESTABLISHED")),
    ];
    expected.sort();
    assert_eq!(first, expected, "the first run is a snapshot");

    // The server side closes first: the client waits to close, the server side waits out
    // TIME_WAIT; one listener goes, another comes.
    drop(server);
    let mut byte = [0u8; 1];
    assert_eq!(
        std::io::Read::read(&mut client, &mut byte).expect("read"),
        0,
        "FIN"
    );
    wait_for_state(client_at, server_at, TCP_CLOSE_WAIT);
    wait_for_state(server_at, client_at, TCP_FIN_WAIT2);
    drop(lonely);
    let newcomer = TcpListener::bind((address, 0)).expect("listen");
    let newcomer_at = v4(newcomer.local_addr().unwrap());

    let second = watcher.next(4);
    assert_eq!(
        second[0],
        change("removed", tcp_row(lonely_at, nowhere, "TCP_LISTEN")),
        "removed rows first"
    );
    let mut rest = second[1..].to_vec();
    rest.sort();
    let mut expected = vec![
        change("changed", tcp_row(client_at, server_at, "TCP_CLOSE_WAIT")),
        change("changed", tcp_row(server_at, client_at, "TCP_TIME_WAIT")),
        change("added", tcp_row(newcomer_at, nowhere, "TCP_LISTEN")),
    ];
    expected.sort();
    assert_eq!(
        rest, expected,
        "the same keys with a new state are changed rows"
    );
    watcher.finish();
}

/// Refusals of `--changes` and `--key`, from a query that would otherwise run.
#[test]
fn bad_change_options_are_coded_diagnostics_that_load_nothing() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    let query = "from task select pid, comm where pid == 1";
    let cases: &[&[&str]] = &[
        &["--changes", query],
        &["--watch", "1", "--changes", "--key", "pdi", query],
        &["--watch", "1", "--changes", "--key", "pid, cmm", query],
        &["--watch", "1", "--changes", "--key", "pid,,comm", query],
        &["--watch", "1", "--changes", "--key", "zzzz", query],
        &[
            "--watch",
            "1",
            "--changes",
            "from task select pid, comm as action",
        ],
        &[
            "--watch",
            "1",
            "--changes",
            "from task select pid as time, comm where pid == 1",
        ],
    ];
    let mut texts = Vec::new();
    for args in cases {
        let out = bpfq(args);
        assert!(out.stdout.is_empty(), "{args:?} printed rows");
        texts.push(format!(
            "$ bpfq {}\nexit {:?}\n{}",
            args.join(" "),
            out.status.code(),
            stderr(&out)
        ));
    }
    insta::assert_snapshot!(texts.join("\n"));
    assert_objects_return_to(baseline, "refused --changes options");
}
