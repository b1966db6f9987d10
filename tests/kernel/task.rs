//! Kernel tests of the task target: queries run through the real kernel and are compared with
//! /proc for processes the test spawned itself.

use crate::common;

use common::*;

#[test]
fn task_rows_match_proc_for_spawned_processes() {
    let _k = shared_kernel();
    let a = Named::spawn(&unique_name("a"));
    let b = Named::spawn(&unique_name("b"));
    let before = proc_comms();
    let out = bpfq(&["from task select pid, tid, tgid, comm", "-o", "csv"]);
    let after = proc_comms();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = csv_rows(&stdout(&out));
    assert!(
        rows.len() > 10,
        "a live system has more than 10 tasks: {rows:?}"
    );
    for named in [&a, &b] {
        let pid = named.pid().to_string();
        let matching: Vec<_> = rows.iter().filter(|r| r[0] == pid).collect();
        assert_eq!(
            matching.len(),
            1,
            "exactly one task of a single-threaded process {pid}: {matching:?}"
        );
        assert_eq!(
            matching[0][1], pid,
            "tid of a single-threaded process is its pid"
        );
        assert_eq!(matching[0][2], pid, "tgid");
        assert_eq!(matching[0][3], named.name, "comm");
    }
    // Every thread whose name /proc showed unchanged before and after the run agrees with it
    // (other tests' threads exec and change their names meanwhile).
    let mut checked = 0;
    for row in &rows {
        let key = (row[2].clone(), row[1].clone());
        if let (Some(comm), Some(later)) = (before.get(&key), after.get(&key)) {
            if comm != later {
                continue;
            }
            assert!(
                comm.starts_with(&row[3]),
                "task {key:?}: /proc says {comm:?}, bpfq says {:?}",
                row[3]
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "compared only {checked} rows with /proc");
}

#[test]
fn where_pid_returns_exactly_that_task() {
    let _k = shared_kernel();
    let a = Named::spawn(&unique_name("w"));
    let query = format!("from task select pid, comm where pid == {}", a.pid());
    let out = bpfq(&[&query, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("\"pid\"").count(), 1, "one row: {text}");
    assert!(text.contains(&format!("\"pid\":{}", a.pid())), "{text}");
    assert!(text.contains(&format!("\"comm\":\"{}\"", a.name)), "{text}");
}

#[test]
fn text_filter_finds_processes_by_name() {
    let _k = shared_kernel();
    let name = unique_name("t");
    let first = Named::spawn(&name);
    let second = Named::spawn(&name);
    let other = Named::spawn(&unique_name("u"));
    let query = format!("from task select pid where comm == \"{name}\" order by pid");
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut expected = vec![first.pid(), second.pid()];
    expected.sort();
    let got: Vec<u32> = stdout(&out)
        .lines()
        .map(|l| l.parse().expect("pid"))
        .collect();
    assert_eq!(got, expected);
    assert!(!got.contains(&other.pid()));
    // `!=`, `and`, `or`, `not` over the same processes.
    let query = format!(
        "from task select pid where (comm == \"{name}\" or comm == \"{}\") and not pid == {} and comm != \"x\"",
        other.name,
        first.pid()
    );
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    let mut got: Vec<u32> = stdout(&out)
        .lines()
        .map(|l| l.parse().expect("pid"))
        .collect();
    got.sort();
    let mut expected = vec![second.pid(), other.pid()];
    expected.sort();
    assert_eq!(got, expected, "{}", stderr(&out));
}

#[test]
fn order_by_and_limit() {
    let _k = shared_kernel();
    let out = bpfq(&[
        "from task select pid, tid order by tid desc limit 5",
        "-o",
        "csv",
        "--no-header",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tids: Vec<i64> = stdout(&out)
        .lines()
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(tids.len(), 5);
    assert!(tids.windows(2).all(|w| w[0] > w[1]), "descending: {tids:?}");
    // The order and the cut are checked on processes of our own: other tests start and end
    // tasks concurrently, so the host's largest tid is not stable between two scans.
    let name = unique_name("o");
    let spawned: Vec<Named> = (0..3).map(|_| Named::spawn(&name)).collect();
    let mut pids: Vec<i64> = spawned.iter().map(|n| n.pid() as i64).collect();
    pids.sort_by(|a, b| b.cmp(a));
    let out = bpfq(&[
        &format!("from task select tid where comm == \"{name}\" order by tid desc limit 2"),
        "-o",
        "csv",
        "--no-header",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Vec<i64> = stdout(&out).lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(
        got,
        pids[..2].to_vec(),
        "the two largest tids, largest first"
    );
}

#[test]
fn spilled_values_compute_the_same_sum() {
    let _k = shared_kernel();
    let a = Named::spawn(&unique_name("s"));
    let fields = [
        "flags",
        "ptrace",
        "on_cpu",
        "recent_used_cpu",
        "wake_cpu",
        "on_rq",
        "prio",
        "static_prio",
        "normal_prio",
        "rt_priority",
        "exit_code",
        "exit_signal",
    ];
    let sum = fields
        .iter()
        .map(|f| format!("task.{f}"))
        .collect::<Vec<_>>()
        .join(" + (")
        + &")".repeat(fields.len() - 1);
    let columns = fields
        .iter()
        .map(|f| format!("task.{f}"))
        .collect::<Vec<_>>()
        .join(", ");
    let query = format!(
        "from task select {sum} as s, {columns} where pid == {}",
        a.pid()
    );
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let values: Vec<i64> = text
        .trim()
        .split(',')
        .map(|v| v.parse().expect("integer"))
        .collect();
    assert_eq!(values.len(), 13, "{text}");
    assert_eq!(values[0], values[1..].iter().sum::<i64>(), "{text}");
    assert_eq!(values[7], 120, "static_prio of a nice-0 task");
}

#[test]
fn rows_wider_than_the_stack_arrive_whole() {
    let _k = shared_kernel();
    let a = Named::spawn(&unique_name("r"));
    // 40 x 16-byte comm + pid: 648 bytes, written in two seq_write calls per task.
    let columns: Vec<String> = (0..40).map(|i| format!("comm as c{i}")).collect();
    let query = format!("from task select {}, pid, tid", columns.join(", "));
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 10);
    let ours: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| r[40] == a.pid().to_string())
        .collect();
    assert_eq!(ours.len(), 1, "{text}");
    assert!(ours[0][..40].iter().all(|c| *c == a.name), "{:?}", ours[0]);
    for row in &rows {
        assert_eq!(row.len(), 42);
        assert!(
            row[..40].iter().all(|c| *c == row[0]),
            "a torn row: {row:?}"
        );
    }
}

#[test]
fn pointer_casts_read_through_the_new_type() {
    let _k = shared_kernel();
    let a = Named::spawn(&unique_name("c"));
    let query = format!(
        "from task select cast(task.real_parent as struct task_struct).tgid as pp, cast(task as struct task_struct).comm as name where pid == {}",
        a.pid()
    );
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("{},{}", std::process::id(), a.name)
    );
}

/// `task(pid = N)` visits one process's threads, `task(tid = N)` one thread, and `where pid == N`
/// becomes the same parameter (shown by explain) without changing the result.
#[test]
fn iterator_parameters_visit_one_process_or_thread() {
    let _k = shared_kernel();
    let script = "import threading,time,sys\nfor _ in range(3): threading.Thread(target=time.sleep,args=(60,),daemon=True).start()\nprint('ready',flush=True)\ntime.sleep(60)";
    let mut child = spawn_python(&[], &["-c", script]);
    assert_eq!(child.first_line(), "ready");
    let pid = child.pid();
    let mut tids: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    tids.sort();
    assert_eq!(tids.len(), 4);
    let listed = |query: &str| -> Vec<String> {
        let out = bpfq(&[query, "-o", "csv", "--no-header"]);
        assert!(out.status.success(), "{query}: {}", stderr(&out));
        let mut rows: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        rows.sort();
        rows
    };
    assert_eq!(listed(&format!("from task(pid = {pid}) select tid")), tids);
    assert_eq!(
        listed(&format!("from task(tid = {}) select tid", tids[1])),
        vec![tids[1].clone()]
    );
    let pushed = format!("from task select tid where pid == {pid}");
    assert_eq!(listed(&pushed), tids);
    assert_eq!(
        listed(&format!("from task select tid where pid + 0 == {pid}")),
        tids,
        "same rows without push-down"
    );
    let explain = bpfq(&["explain", &pushed]);
    assert!(
        stdout(&explain).contains(&format!(
            "pid = {pid}: only this process's threads (from the where clause)"
        )),
        "{}",
        stdout(&explain)
    );
    drop(child);
}

/// (tgid, tid) -> comm of every thread /proc lists now.
fn proc_comms() -> std::collections::HashMap<(String, String), String> {
    let mut comms = std::collections::HashMap::new();
    for process in std::fs::read_dir("/proc").unwrap().flatten() {
        let tgid = process.file_name().to_string_lossy().into_owned();
        if tgid.parse::<u32>().is_err() {
            continue;
        }
        let Ok(threads) = std::fs::read_dir(process.path().join("task")) else {
            continue;
        };
        for thread in threads.flatten() {
            let tid = thread.file_name().to_string_lossy().into_owned();
            if let Ok(comm) = std::fs::read_to_string(thread.path().join("comm")) {
                comms.insert((tgid.clone(), tid), comm.trim_end().to_string());
            }
        }
    }
    comms
}

/// `rss`, `start_time` and `start` of spawned (sleeping, so unchanging) processes against
/// /proc/PID/stat: rss (field 24, pages) is the same per-mm counters the column reads, and
/// starttime (field 22) is start_boottime in clock ticks.
#[test]
fn rss_and_start_time_match_proc_stat() {
    let _k = shared_kernel();
    let a = Named::spawn(&unique_name("rs"));
    let b = Named::spawn(&unique_name("rt"));
    let (pa, pb) = (a.pid(), b.pid());
    let (header, rows) = query_csv(
        &format!("from task select pid, rss, start_time, start where pid in ({pa}, {pb})"),
        &[],
    );
    assert_eq!(header, ["pid", "rss", "start_time", "start"]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Clock ticks per second, from getconf (sysconf), not assumed.
    let ticks: u64 = String::from_utf8(
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .expect("getconf runs")
            .stdout,
    )
    .expect("utf-8")
    .trim()
    .parse()
    .expect("CLK_TCK is a number");
    for row in &rows {
        let pid: u32 = row[0].parse().expect("pid");
        let rss_pages: u64 = proc_stat_field(pid, 24).parse().expect("rss");
        assert!(rss_pages > 0, "a running sleep has resident pages");
        assert_eq!(row[1], (rss_pages * 4096).to_string(), "rss of {pid}");
        let start_ns: u64 = row[2].parse().expect("start_time");
        let start_ticks: u64 = proc_stat_field(pid, 22).parse().expect("starttime");
        assert_eq!(
            start_ns / (1_000_000_000 / ticks),
            start_ticks,
            "start of {pid}"
        );
        assert_eq!(row[3], (start_ns / 1_000_000_000).to_string(), "start in s");
    }
    // /proc/PID/statm's resident count adds the per-CPU parts (Linux 6.16+): the kernel itself
    // lets the two differ by at most a counter batch per CPU and counter (3 counters here).
    let statm = std::fs::read_to_string(format!("/proc/{pa}/statm")).expect("statm");
    let exact: i64 = statm
        .split_whitespace()
        .nth(1)
        .expect("resident")
        .parse()
        .expect("pages");
    let row_a = rows
        .iter()
        .find(|r| r[0] == pa.to_string())
        .expect("row of a");
    let shown = row_a[1].parse::<i64>().expect("rss") / 4096;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    let batch = (2 * cpus).max(32);
    assert!(
        (exact - shown).abs() <= 3 * batch * cpus,
        "statm {exact} vs bpfq {shown} pages"
    );
}

#[test]
fn is_null_finds_the_kernel_threads_whose_rss_is_null() {
    let _k = shared_kernel();
    // Kernel threads have no mm: their rss (read through task.mm) is NULL, and `is null`
    // selects exactly them.
    let (_, kthreads) = query_csv(
        "from task select pid, rss where rss is null and comm like \"kworker%\"",
        &[],
    );
    assert!(!kthreads.is_empty(), "this machine has kworker threads");
    assert!(kthreads.iter().all(|row| row[1].is_empty()), "{kthreads:?}");
    let (_, with_rss) = query_csv(
        "from task select pid where rss is not null and comm like \"kworker%\"",
        &[],
    );
    assert_eq!(with_rss, Vec::<Vec<String>>::new());
    // A process of ours has an mm: `is not null` keeps it, `is null` drops it.
    let child = Named::spawn(&unique_name("rss"));
    for (test, expected) in [("is not null", 1), ("is null", 0)] {
        let query = format!(
            "from task select pid, rss where rss {test} and pid == {}",
            child.pid()
        );
        let (_, rows) = query_csv(&query, &[]);
        assert_eq!(rows.len(), expected, "{query}: {rows:?}");
        assert!(rows.iter().all(|row| !row[1].is_empty()), "{rows:?}");
    }
}
