//! Kernel tests under load and churn: eight bpfq runs at once agree; task dumps while processes
//! fork and exit continuously and tcp dumps while loopback connections open and close have no
//! error, no torn or duplicated row, and show the test's stable processes and connections
//! exactly once; a process of 10,000 threads is counted exactly (against /proc/PID/task).

use crate::common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

/// Shell loops that fork and exit (`/bin/true`) as fast as they can, killed on drop.
fn fork_churners(count: usize) -> Vec<KillOnDrop> {
    (0..count)
        .map(|_| {
            KillOnDrop(
                Command::new("sh")
                    .args(["-c", "while :; do /bin/true; done"])
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("sh"),
            )
        })
        .collect()
}

/// Threads listed in /proc (every thread of every process).
fn proc_thread_count() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_dir(e.path().join("task")).ok())
        .map(|tasks| tasks.count())
        .sum()
}

#[test]
fn eight_concurrent_runs_all_succeed_and_agree() {
    let _k = exclusive_kernel();
    let stable: Vec<Named> = ["c1", "c2", "c3"]
        .iter()
        .map(|tag| Named::spawn(&unique_name(tag)))
        .collect();
    let pids: Vec<String> = stable.iter().map(|n| n.pid().to_string()).collect();
    let filtered = format!(
        "from task select pid, comm where pid in ({}) order by pid",
        pids.join(", ")
    );
    let mut expected: Vec<(u32, String)> =
        stable.iter().map(|n| (n.pid(), n.name.clone())).collect();
    expected.sort();
    let expected: String = expected
        .iter()
        .map(|(pid, name)| format!("{pid},{name}\n"))
        .collect();
    let baseline = bpf_objects();
    // Six filtered runs, a whole task dump and a unix dump (ring transport), all at once.
    let mut queries = vec![filtered.as_str(); 6];
    queries.push("from task select pid, tid, comm");
    queries.push("from unix select inode, type, state");
    let runs: Vec<_> = queries
        .iter()
        .map(|query| {
            Command::new(bpfq_path())
                .args([query, "-o", "csv", "--no-header"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (query, run) in queries.iter().zip(runs) {
        let out = run.wait_with_output().unwrap();
        assert!(out.status.success(), "{query}: {}", stderr(&out));
        assert!(!out.stdout.is_empty(), "{query}: no rows");
        if *query == filtered {
            assert_eq!(stdout(&out), expected, "{query}");
        }
    }
    assert_objects_return_to(baseline, "after eight concurrent runs");
}

#[test]
fn task_dumps_during_fork_churn_are_whole_and_unique() {
    let _k = shared_kernel();
    let stable: Vec<Named> = ["f1", "f2", "f3"]
        .iter()
        .map(|tag| Named::spawn(&unique_name(tag)))
        .collect();
    let _churn = fork_churners(2);
    for _ in 0..8 {
        let before = proc_thread_count();
        let (header, rows) = query_csv("from task select pid, tid, tgid, comm", &[]);
        let after = proc_thread_count();
        assert_eq!(header, ["pid", "tid", "tgid", "comm"]);
        let mut tids = BTreeSet::new();
        let mut by_pid: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for row in &rows {
            // A comm may hold commas; the first three fields are numbers.
            assert!(row.len() >= 4, "torn row {row:?}");
            let number = |i: usize| -> u32 {
                row[i]
                    .parse()
                    .unwrap_or_else(|_| panic!("torn row {row:?}"))
            };
            let (pid, tid, tgid) = (number(0), number(1), number(2));
            assert_eq!(pid, tgid, "pid is the thread group id: {row:?}");
            assert!(tids.insert(tid), "thread {tid} listed twice");
            if pid == tid {
                by_pid.entry(pid).or_default().push(row[3..].join(","));
            }
        }
        for named in &stable {
            assert_eq!(
                by_pid.get(&named.pid()),
                Some(&vec![named.name.clone()]),
                "stable process {} exactly once",
                named.pid()
            );
        }
        // The churn (and other work on the machine) moves the count a little, never far.
        let (low, high) = (before.min(after), before.max(after));
        let slack = 50.max(high / 5);
        assert!(
            rows.len() + slack >= low && rows.len() <= high + slack,
            "{} rows while /proc listed {before} then {after} threads",
            rows.len()
        );
    }
}

/// A python3 child with a loopback listener, five stable connections and a thread that opens
/// and resets connections to the listener as fast as it can (SO_LINGER 0: no TIME_WAIT, so a
/// 4-tuple is never reused while an old socket holds it).
struct ConnectionChurn {
    _child: KillOnDrop,
    port: u16,
    stable_ports: Vec<u16>,
}

impl ConnectionChurn {
    fn spawn() -> ConnectionChurn {
        let script = "import socket,struct,sys,threading\n\
            srv=socket.socket(); srv.bind(('127.0.0.1',0)); srv.listen(512)\n\
            port=srv.getsockname()[1]\n\
            stable=[socket.create_connection(('127.0.0.1',port)) for _ in range(5)]\n\
            accepted=[srv.accept()[0] for _ in range(5)]\n\
            def accept():\n\
            \x20   while True:\n\
            \x20       c,_=srv.accept(); c.close()\n\
            def churn():\n\
            \x20   while True:\n\
            \x20       s=socket.create_connection(('127.0.0.1',port))\n\
            \x20       s.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0)); s.close()\n\
            threading.Thread(target=accept,daemon=True).start()\n\
            threading.Thread(target=churn,daemon=True).start()\n\
            print(port,*[s.getsockname()[1] for s in stable],flush=True)\n\
            sys.stdin.read()\n";
        let mut child = spawn_python(&[], &["-c", script]);
        let line = child.first_line();
        let ports: Vec<u16> = line
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(ports.len(), 6, "{line}");
        ConnectionChurn {
            _child: child,
            port: ports[0],
            stable_ports: ports[1..].to_vec(),
        }
    }
}

#[test]
fn tcp_dumps_during_connection_churn_are_whole_and_unique() {
    let _k = shared_kernel();
    let churn = ConnectionChurn::spawn();
    let port = churn.port;
    let query = format!(
        "from tcp select src, sport, dst, dport, state where sport == {port} or dport == {port}"
    );
    let mut churned_rows = 0;
    for _ in 0..8 {
        let (_, rows) = query_csv(&query, &[]);
        let mut seen = BTreeSet::new();
        for row in &rows {
            assert_eq!(row.len(), 5, "torn row {row:?}");
            assert!(
                seen.insert(row[..4].to_vec()),
                "connection listed twice: {row:?}"
            );
        }
        let has = |row: [&str; 5]| rows.iter().filter(|r| *r == &row.map(String::from)).count();
        let p = port.to_string();
        assert_eq!(
            has(["127.0.0.1", &p, "0.0.0.0", "0", "TCP_LISTEN"]),
            1,
            "{rows:?}"
        );
        for stable in &churn.stable_ports {
            let s = stable.to_string();
            let established = "TCP_ESTABLISHED";
            assert_eq!(
                has(["127.0.0.1", &s, "127.0.0.1", &p, established]),
                1,
                "{rows:?}"
            );
            assert_eq!(
                has(["127.0.0.1", &p, "127.0.0.1", &s, established]),
                1,
                "{rows:?}"
            );
        }
        churned_rows += rows.len() - 11;
    }
    // Not a requirement of correctness, but proof the churn ran while bpfq read.
    eprintln!("rows of churning connections seen: {churned_rows}");
}

#[test]
fn ten_thousand_threads_are_counted_exactly() {
    let _k = shared_kernel();
    const THREADS: usize = 10_000;
    // Small stacks keep 10k threads cheap (64 KiB each); they all wait on one event.
    let script = format!(
        "import threading,sys\n\
         threading.stack_size(65536)\n\
         stop=threading.Event()\n\
         for _ in range({THREADS}): threading.Thread(target=stop.wait,daemon=True).start()\n\
         print('ready',flush=True)\n\
         sys.stdin.read()\n"
    );
    let mut child = spawn_python(&[], &["-c", &script]);
    assert_eq!(child.first_line(), "ready");
    let pid = child.pid();
    let in_proc: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(in_proc.len(), THREADS + 1, "python3 started every thread");
    let (_, counted) = query_csv(
        &format!("from task select count(*) where pid == {pid}"),
        &[],
    );
    assert_eq!(counted, [[in_proc.len().to_string()]]);
    let (_, rows) = query_csv(&format!("from task select tid where pid == {pid}"), &[]);
    let listed: BTreeSet<String> = rows.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        listed, in_proc,
        "every thread once, as /proc/{pid}/task lists them"
    );
}
