//! Kernel tests of grouped queries: processes the test spawns with known thread counts, grouped
//! and aggregated by bpfq, compared with what /proc/PID/task says about the same threads; and
//! the kernel's grouping (a BPF hash map) compared with user space's (`--group-in user`) on the
//! same objects.

use crate::common;

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
        Named::spawn_program(&[], "/usr/bin/python3", &["-c", &script], name, Stdio::null)
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
    run_csv_with(query, &[])
}

fn run_csv_with(query: &str, extra: &[&str]) -> Vec<Vec<String>> {
    let out = {
        let _fork = forking();
        let mut args = vec![query, "-o", "csv"];
        args.extend_from_slice(extra);
        bpfq(&args)
    };
    assert!(out.status.success(), "{query}\n{}", stderr(&out));
    csv_rows(&stdout(&out))
}

/// The rows of `query` grouped in the kernel (which `explain` must say it does), after checking
/// that grouping in user space gives exactly the same rows.
fn grouped_both_ways(query: &str) -> Vec<Vec<String>> {
    let explain = {
        let _fork = forking();
        bpfq(&["explain", query])
    };
    assert!(
        stdout(&explain).contains("grouping:    kernel (BPF hash map"),
        "{query}\n{}",
        stdout(&explain)
    );
    let kernel = run_csv(query);
    let user = run_csv_with(query, &["--group-in", "user"]);
    assert_eq!(kernel, user, "{query}: kernel vs user-space grouping");
    kernel
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

#[test]
fn kernel_grouping_matches_proc_and_user_space_grouping() {
    let _k = shared_kernel();
    let name = unique_name("gk");
    let processes = [threaded(&name, 0), threaded(&name, 2), threaded(&name, 5)];
    let rows = grouped_both_ways(&format!(
        "from task select tgid, count(*), count(tid), sum(tid), min(tid), max(tid), avg(tid), \
         sum(0 - tid), min(0 - tid), max(0 - tid), avg(0 - tid) \
         where comm == \"{name}\" group by tgid order by tgid"
    ));
    let mut pids: Vec<u32> = processes.iter().map(|p| p.pid()).collect();
    pids.sort_unstable();
    assert_eq!(rows.len(), pids.len(), "{rows:?}");
    for (row, pid) in rows.iter().zip(pids) {
        let tids = tids(pid);
        let (n, sum) = (tids.len() as i64, tids.iter().sum::<u64>() as i64);
        let (min, max) = (tids[0] as i64, tids[tids.len() - 1] as i64);
        let expected = [pid as i64, n, n, sum, min, max, 0, -sum, -max, -min, 0];
        for (i, want) in expected.iter().enumerate() {
            if i == 6 || i == 10 {
                continue;
            }
            assert_eq!(row[i], want.to_string(), "column {i} of {row:?}");
        }
        let mean = sum as f64 / n as f64;
        let got: f64 = row[6].parse().unwrap();
        assert!((got - mean).abs() < 1e-9, "avg(tid) {got} vs {mean}");
        let got: f64 = row[10].parse().unwrap();
        assert!((got + mean).abs() < 1e-9, "avg(0 - tid) {got} vs {}", -mean);
    }
}

#[test]
fn a_full_group_map_grows_and_nothing_is_left_behind() {
    let _k = shared_kernel();
    let name = unique_name("gg");
    let process = threaded(&name, 9);
    let baseline = bpf_objects();
    let query = format!(
        "from task select tid, count(*) where comm == \"{name}\" group by tid order by tid"
    );
    let out = {
        let _fork = forking();
        bpfq(&[&query, "-o", "csv", "-v", "--group-entries", "2"])
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("group map of 2 entries filled up"),
        "{}",
        stderr(&out)
    );
    let rows = csv_rows(&stdout(&out));
    let expected: Vec<Vec<String>> = tids(process.pid())
        .iter()
        .map(|t| vec![t.to_string(), "1".to_string()])
        .collect();
    assert_eq!(
        rows, expected,
        "one group per thread, as /proc/PID/task lists them"
    );
    assert_objects_return_to(baseline, "kernel grouping with a growing map");
}

#[test]
fn null_keys_and_null_sums_are_the_same_in_both_paths() {
    let _k = shared_kernel();
    let name = unique_name("gn");
    let process = threaded(&name, 2);
    // kthreadd (pid 2) has no mm: its key and its sum are NULL.
    let rows = grouped_both_ways(&format!(
        "from task select cast(task.mm.total_vm > 0 as u8) as has_vm, task.mm.map_count as maps, \
         count(*), sum(vsize), count(vsize) where tgid == 2 or comm == \"{name}\" group by maps, has_vm order by maps"
    ));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][..5], ["0", "", "1", "", "0"], "kthreadd: {rows:?}");
    let threads = tids(process.pid()).len().to_string();
    assert_eq!(rows[1][0], "1");
    assert_eq!(rows[1][2], threads);
    assert_eq!(rows[1][4], threads);
}
