//! Kernel tests of grouped queries: processes the test spawns with known thread counts, grouped
//! and aggregated by bpfq, compared with what /proc/PID/task says about the same threads.

mod common;

use common::*;
use std::process::Stdio;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Held around every fork of this test binary. A copied executable is exec'd right after the
/// copy; a fork in another test thread meanwhile would hold the copy's write descriptor until
/// its own exec, and the exec of the copy fails with ETXTBSY.
static FORKS: Mutex<()> = Mutex::new(());

fn forking() -> MutexGuard<'static, ()> {
    FORKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A python3 copy named `name` running `threads` extra threads (all with the same comm).
fn threaded(name: &str, threads: usize) -> Named {
    let script = format!(
        "import threading, time\nfor _ in range({threads}):\n    threading.Thread(target=time.sleep, args=(300,), daemon=True).start()\ntime.sleep(300)\n"
    );
    let named = {
        let _fork = forking();
        Named::spawn_program(
            &[],
            "/usr/bin/python3",
            &["-c", &script],
            name,
            Stdio::null(),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while tids(named.pid()).len() != threads + 1 {
        assert!(
            Instant::now() < deadline,
            "{name} never had {threads} threads"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    named
}

/// The thread ids of process `pid`, from /proc.
fn tids(pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<u64> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    tids
}

fn run_csv(query: &str) -> Vec<Vec<String>> {
    let out = {
        let _fork = forking();
        bpfq(&[query, "-o", "csv"])
    };
    assert!(out.status.success(), "{query}\n{}", stderr(&out));
    csv_rows(&stdout(&out))
}

#[test]
fn count_per_process_matches_proc_task() {
    let _k = shared_kernel();
    let name = unique_name("gc");
    let small = threaded(&name, 2);
    let big = threaded(&name, 5);
    let rows = run_csv(&format!(
        "from task select tgid, count(*) where comm == \"{name}\" group by tgid"
    ));
    let mut got: Vec<(u32, usize)> = rows
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    got.sort_unstable();
    let mut expected: Vec<(u32, usize)> = [&small, &big]
        .iter()
        .map(|p| (p.pid(), tids(p.pid()).len()))
        .collect();
    expected.sort_unstable();
    assert_eq!(got, expected, "threads per process: bpfq vs /proc/PID/task");
}

#[test]
fn sum_min_max_avg_of_thread_ids_match_proc() {
    let _k = shared_kernel();
    let name = unique_name("ga");
    let process = threaded(&name, 4);
    let rows = run_csv(&format!(
        "from task select tgid, sum(tid), min(tid), max(tid), avg(tid), count(distinct tgid), min(comm) where comm == \"{name}\" group by tgid"
    ));
    let tids = tids(process.pid());
    let sum: u64 = tids.iter().sum();
    let avg = sum as f64 / tids.len() as f64;
    assert_eq!(rows.len(), 1, "one process: {rows:?}");
    let row = &rows[0];
    assert_eq!(row[0], process.pid().to_string());
    assert_eq!(row[1], sum.to_string(), "sum(tid)");
    assert_eq!(row[2], tids[0].to_string(), "min(tid)");
    assert_eq!(row[3], tids[tids.len() - 1].to_string(), "max(tid)");
    let got_avg: f64 = row[4].parse().expect("avg is a number");
    assert!((got_avg - avg).abs() < 1e-9, "avg(tid) {got_avg} vs {avg}");
    assert_eq!(row[5], "1", "count(distinct tgid)");
    assert_eq!(row[6], name, "min(comm) keeps text");
}

#[test]
fn having_filters_groups_and_order_by_an_aggregate() {
    let _k = shared_kernel();
    let name = unique_name("gh");
    let one = threaded(&name, 1);
    let three = threaded(&name, 3);
    let six = threaded(&name, 6);
    let rows = run_csv(&format!(
        "from task select tgid, count(*) as threads where comm == \"{name}\" group by tgid having count(*) > 2 order by count(*) desc"
    ));
    let got: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    let expected: Vec<(String, String)> = [&six, &three]
        .iter()
        .map(|p| (p.pid().to_string(), tids(p.pid()).len().to_string()))
        .collect();
    assert_eq!(got, expected, "groups over 2 threads, most threads first");
    drop(one);

    // Ascending, by the alias, with a limit.
    let rows = run_csv(&format!(
        "from task select tgid, count(*) as threads where comm == \"{name}\" group by tgid order by threads limit 1"
    ));
    assert_eq!(
        rows,
        vec![vec![
            three.pid().to_string(),
            tids(three.pid()).len().to_string()
        ]]
    );
}

#[test]
fn aggregates_alone_are_one_group_even_without_rows() {
    let _k = shared_kernel();
    let name = unique_name("g1");
    let a = threaded(&name, 1);
    let b = threaded(&name, 2);
    let rows = run_csv(&format!(
        "from task select count(*), count(distinct pid), sum(tid) where comm == \"{name}\""
    ));
    let all: Vec<u64> = tids(a.pid()).into_iter().chain(tids(b.pid())).collect();
    assert_eq!(
        rows,
        vec![vec![
            all.len().to_string(),
            "2".to_string(),
            all.iter().sum::<u64>().to_string()
        ]]
    );
    // No thread has this name: one group, count 0, sum NULL (empty in CSV).
    let rows = run_csv("from task select count(*), sum(tid) where comm == \"bq-no-such-name\"");
    assert_eq!(rows, vec![vec!["0".to_string(), String::new()]]);
}

#[test]
fn grouped_json_output_types() {
    let _k = shared_kernel();
    let name = unique_name("gj");
    let process = threaded(&name, 1);
    let query = format!(
        "from task select comm, count(*) as n, avg(tid) as mean where comm == \"{name}\" group by comm"
    );
    let out = {
        let _fork = forking();
        bpfq(&[&query, "-o", "json"])
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let tids = tids(process.pid());
    let mean = tids.iter().sum::<u64>() as f64 / tids.len() as f64;
    let text = stdout(&out);
    assert!(
        text.contains(&format!("\"comm\":\"{name}\",\"n\":2,\"mean\":{mean:?}")),
        "{text}"
    );
}

#[test]
fn group_by_socket_state_matches_ss() {
    let _k = shared_kernel();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().unwrap().port();
    let clients: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let accepted: Vec<_> = (0..3).map(|_| listener.accept().expect("accept")).collect();
    let rows = run_csv(&format!(
        "from tcp select state, count(*) as n where sport == {port} or dport == {port} group by state having state != CLOSE order by state"
    ));
    let _fork = forking();
    let ss = std::process::Command::new("ss")
        .args(["-Htan", &format!("( sport = :{port} or dport = :{port} )")])
        .output()
        .expect("ss runs");
    let mut by_state = std::collections::BTreeMap::<String, usize>::new();
    for line in String::from_utf8_lossy(&ss.stdout).lines() {
        let state = match line.split_whitespace().next() {
            Some("LISTEN") => "TCP_LISTEN",
            Some("ESTAB") => "TCP_ESTABLISHED",
            Some(other) => panic!("unexpected state {other} in {line}"),
            None => continue,
        };
        *by_state.entry(state.to_string()).or_default() += 1;
    }
    let got: std::collections::BTreeMap<String, usize> = rows
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(got, by_state, "bpfq {rows:?} vs ss");
    assert_eq!(
        got.get("TCP_ESTABLISHED"),
        Some(&6),
        "3 clients + 3 accepted"
    );
    drop((clients, accepted));
}
