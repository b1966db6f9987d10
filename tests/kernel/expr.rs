//! Kernel tests of expressions and types (issue 3): stdlib columns, BTF paths, bitfields, NULL
//! pointers, signed values, `like`, `in`, arithmetic, parameters, casts and enums, each run
//! through the real kernel on processes the test spawned and compared with /proc.

use crate::common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The single row a `where pid == ...` query returns, as csv fields.
fn single_row(query: &str, extra: &[&str]) -> Vec<String> {
    let (_, rows) = query_csv(query, extra);
    assert_eq!(rows.len(), 1, "one row from `{query}`: {rows:?}");
    rows.into_iter().next().unwrap_or_default()
}

/// The pids (first csv column) a query returns, sorted.
fn pids_of(query: &str) -> Vec<u32> {
    let (_, rows) = query_csv(query, &[]);
    let mut pids: Vec<u32> = rows
        .iter()
        .map(|row| {
            row[0]
                .parse()
                .unwrap_or_else(|_| panic!("pid column of `{query}`: {row:?}"))
        })
        .collect();
    pids.sort_unstable();
    pids
}

fn sorted(mut pids: Vec<u32>) -> Vec<u32> {
    pids.sort_unstable();
    pids
}

#[test]
fn ppid_is_the_spawning_process() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("pp"));
    let query = format!(
        "from task select pid, ppid, task.real_parent.tgid as ppid2 where pid == {}",
        child.pid()
    );
    let row = single_row(&query, &[]);
    let me = std::process::id().to_string();
    assert_eq!(row[0], child.pid().to_string());
    assert_eq!(row[1], me, "ppid column is this test process");
    assert_eq!(row[2], me, "task.real_parent.tgid agrees");
    assert_eq!(proc_stat_field(child.pid(), 4), me, "/proc/PID/stat ppid");
}

#[test]
fn uid_and_gid_match_proc_status() {
    let _k = shared_kernel();
    let wrapper = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let nobody = Named::spawn_via(&wrapper, &unique_name("ug"));
    let root = Named::spawn(&unique_name("ur"));
    for child in [&nobody, &root] {
        let query = format!(
            "from task select uid, gid, task.cred.uid.val as raw_uid where pid == {}",
            child.pid()
        );
        let row = single_row(&query, &[]);
        let uid = proc_status_first(child.pid(), "Uid");
        let gid = proc_status_first(child.pid(), "Gid");
        assert_eq!(row, vec![uid.clone(), gid, uid], "uid, gid, raw uid");
    }
    assert_eq!(proc_status_first(nobody.pid(), "Uid"), "65534", "setpriv");
    let listed = pids_of("from task select pid where uid == 65534");
    assert!(listed.contains(&nobody.pid()), "{listed:?}");
    assert!(!listed.contains(&root.pid()), "{listed:?}");
}

#[test]
fn vsize_matches_vmsize() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("vs"));
    let query = format!(
        "from task select vsize, task.mm.total_vm as pages where pid == {}",
        child.pid()
    );
    let row = single_row(&query, &[]);
    let vm_kib: u64 = proc_status_first(child.pid(), "VmSize")
        .parse()
        .expect("VmSize in kB");
    assert_eq!(row[0], (vm_kib * 1024).to_string(), "vsize in bytes");
    assert_eq!(row[1], (vm_kib / 4).to_string(), "total_vm in 4 KiB pages");
}

/// A python3 process with 7 threads besides its main thread, all blocked until it is killed.
fn spawn_threaded_python() -> KillOnDrop {
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let script = "import sys, threading\n\
                  gate = threading.Event()\n\
                  threads = [threading.Thread(target=gate.wait, daemon=True) for _ in range(7)]\n\
                  [t.start() for t in threads]\n\
                  print('ready', flush=True)\n\
                  sys.stdin.read()\n";
    let mut child = KillOnDrop(
        Command::new(python)
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3"),
    );
    let mut line = String::new();
    let stdout = child.0.stdout.take().expect("piped stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("python3 says ready");
    assert_eq!(line.trim(), "ready");
    child
}

#[test]
fn threads_column_and_tids_match_proc_task() {
    let _k = shared_kernel();
    let python = spawn_threaded_python();
    let pid = python.pid();
    let mut proc_tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("read /proc/PID/task")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    proc_tids.sort_unstable();
    assert_eq!(proc_tids.len(), 8, "7 threads plus the main thread");
    let (_, rows) = query_csv(
        &format!("from task select tid, threads where pid == {pid}"),
        &[],
    );
    let tids = sorted(
        rows.iter()
            .map(|row| row[0].parse().expect("tid"))
            .collect(),
    );
    assert_eq!(tids, proc_tids, "one row per thread, as /proc/PID/task");
    for row in &rows {
        assert_eq!(row[1], "8", "threads column on every thread's row: {row:?}");
    }
    let tids_only = pids_of(&format!("from task select tid where pid == {pid}"));
    assert_eq!(tids_only, proc_tids);
}

#[test]
fn nice_and_prio_of_a_niced_process() {
    let _k = shared_kernel();
    let child = Named::spawn_via(&["nice", "-n", "5"], &unique_name("ni"));
    let query = format!(
        "from task select nice, prio, task.prio as raw_prio where pid == {}",
        child.pid()
    );
    let row = single_row(&query, &[]);
    assert_eq!(row, vec!["5", "125", "125"]);
    // proc(5): field 18 is priority (prio - 100), field 19 is nice.
    assert_eq!(proc_stat_field(child.pid(), 18), "25");
    assert_eq!(proc_stat_field(child.pid(), 19), row[0]);
}

/// TASK_REPORT: the state bits /proc turns into a letter (S = 1, D = 2, T = 4, t = 8...).
const TASK_REPORT: u32 = 0x7f;

#[test]
fn state_of_sleeping_and_stopped_processes() {
    let _k = shared_kernel();
    // A process blocked reading an empty pipe sleeps in plain TASK_INTERRUPTIBLE (1).
    let reader = Named::spawn_program(&[], "/bin/cat", &[], &unique_name("sr"), Stdio::piped);
    wait_for_state(reader.pid(), "S");
    let query = format!("from task select state where pid == {}", reader.pid());
    assert_eq!(single_row(&query, &[]), vec!["1"], "TASK_INTERRUPTIBLE");
    let interruptible = pids_of("from task select pid where task.__state == 1");
    assert!(interruptible.contains(&reader.pid()), "{interruptible:?}");

    // nanosleep sleeps TASK_INTERRUPTIBLE | TASK_FREEZABLE (0x2000) on 6.1+: /proc shows `S`.
    let sleeper = Named::spawn(&unique_name("ss"));
    wait_for_state(sleeper.pid(), "S");
    let query = format!("from task select state where pid == {}", sleeper.pid());
    let state: u32 = single_row(&query, &[])[0].parse().expect("state");
    assert_eq!(state & TASK_REPORT, 1, "sleeping: state {state:#x}");

    // SIGSTOP leaves TASK_STOPPED = TASK_WAKEKILL (0x100) | __TASK_STOPPED (4): /proc shows `T`.
    let stopped = Named::spawn(&unique_name("st"));
    let status = Command::new("kill")
        .args(["-STOP", &stopped.pid().to_string()])
        .status()
        .expect("kill -STOP");
    assert!(status.success());
    wait_for_state(stopped.pid(), "T");
    let query = format!("from task select state where pid == {}", stopped.pid());
    let state: u32 = single_row(&query, &[])[0].parse().expect("state");
    assert_eq!(state & TASK_REPORT, 4, "stopped: state {state:#x}");
    assert_eq!(state, 0x104, "TASK_STOPPED");
}

/// PF_KTHREAD in the flags field (9) of /proc/PID/stat.
const PF_KTHREAD: u64 = 0x0020_0000;

/// The flags field of /proc/PID/stat, or None when the process is gone or exiting (a zombie,
/// or a process past `exit_mm`, has no mm either: state Z or X, or PF_EXITING).
fn stat_flags(pid: &str) -> Option<u64> {
    const PF_EXITING: u64 = 0x4;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    let state = fields.next()?;
    let flags: u64 = fields.nth(9 - 4)?.parse().ok()?;
    (!matches!(state, "Z" | "X") && flags & PF_EXITING == 0).then_some(flags)
}

#[test]
fn null_mm_renders_as_null_not_zero() {
    let _k = shared_kernel();
    let query = "from task select pid, task.mm.total_vm as vm where task.mm is null";
    let (header, rows) = query_csv(query, &[]);
    assert_eq!(header, vec!["pid", "vm"]);
    assert!(
        rows.iter().any(|row| row[0] == "2"),
        "kthreadd (pid 2) has no mm: {rows:?}"
    );
    for row in &rows {
        assert_eq!(
            row[1], "",
            "vm through a NULL mm is NULL (empty csv): {row:?}"
        );
        // A kernel thread may exit between the run and this check: then there is no oracle.
        if let Some(flags) = stat_flags(&row[0]) {
            assert_ne!(flags & PF_KTHREAD, 0, "pid {} is a kernel thread", row[0]);
        }
    }
    let json = bpfq_ok(&[query, "-o", "json"]);
    assert!(json.contains("{\"pid\":2,\"vm\":null}"), "{json}");
    assert!(!json.contains("\"vm\":0"), "{json}");

    let child = Named::spawn(&unique_name("mm"));
    let query = format!(
        "from task select pid, task.mm.total_vm where pid == {}",
        child.pid()
    );
    let row = single_row(&query, &[]);
    let vm_kib: u64 = proc_status_first(child.pid(), "VmSize")
        .parse()
        .expect("VmSize");
    assert_eq!(row[1], (vm_kib / 4).to_string(), "a user process has an mm");
    let json = bpfq_ok(&[&query, "-o", "json"]);
    assert!(
        json.contains(&format!(":{}}}", vm_kib / 4)),
        "non-null number: {json}"
    );
}

#[test]
fn bitfield_sched_reset_on_fork() {
    let _k = shared_kernel();
    let reset = Named::spawn_via(
        &["chrt", "--reset-on-fork", "--other", "0"],
        &unique_name("rf"),
    );
    let plain = Named::spawn(&unique_name("rp"));
    let policy = Command::new("chrt")
        .args(["-p", &reset.pid().to_string()])
        .output()
        .expect("chrt -p");
    assert!(
        stdout(&policy).contains("SCHED_RESET_ON_FORK"),
        "{}",
        stdout(&policy)
    );
    for (child, expected) in [(&reset, "1"), (&plain, "0")] {
        let query = format!(
            "from task select task.sched_reset_on_fork where pid == {}",
            child.pid()
        );
        assert_eq!(single_row(&query, &[]), vec![expected], "{}", child.name);
    }
}

#[test]
fn like_patterns_on_comm() {
    let _k = shared_kernel();
    let n = std::process::id() % 100_000;
    let a = Named::spawn(&format!("bqlk{n}a"));
    let b = Named::spawn(&format!("bqlk{n}b"));
    let other = Named::spawn(&format!("bqlx{n}a"));
    let both = sorted(vec![a.pid(), b.pid()]);
    let query = |condition: String| pids_of(&format!("from task select pid where {condition}"));
    assert_eq!(query(format!("comm like \"bqlk{n}%\"")), both, "% suffix");
    assert_eq!(
        query(format!("comm like \"bqlk{n}_\"")),
        both,
        "_ is one char"
    );
    assert_eq!(query(format!("comm like \"bqlk{n}__\"")), vec![], "not two");
    assert_eq!(
        query(format!("comm like \"bql_{n}a\"")),
        sorted(vec![a.pid(), other.pid()]),
        "_ in the middle"
    );
    assert_eq!(
        query(format!("comm like \"bqlk{n}a\"")),
        vec![a.pid()],
        "exact"
    );
    assert_eq!(
        query(format!("comm like \"bql%{n}%\" and comm not like \"%b\"")),
        sorted(vec![a.pid(), other.pid()]),
        "not like"
    );
}

#[test]
fn in_and_not_in_lists() {
    let _k = shared_kernel();
    let a = Named::spawn(&unique_name("ia"));
    let b = Named::spawn(&unique_name("ib"));
    let c = Named::spawn(&unique_name("ic"));
    let (pa, pb, pc) = (a.pid(), b.pid(), c.pid());
    assert_eq!(
        pids_of(&format!("from task select pid where pid in ({pa}, {pb})")),
        sorted(vec![pa, pb])
    );
    assert_eq!(
        pids_of(&format!(
            "from task select pid where pid not in ({pa}, {pb}) and (pid == {pa} or pid == {pb} or pid == {pc})"
        )),
        vec![pc]
    );
}

#[test]
fn arithmetic_and_parameters() {
    let _k = shared_kernel();
    let child = Named::spawn_via(&["nice", "-n", "3"], &unique_name("ar"));
    let pid = child.pid();
    let row = single_row(
        "from task select task.prio - 120 as n where pid == $p",
        &["--param", &format!("p={pid}")],
    );
    assert_eq!(row, vec![proc_stat_field(pid, 19)], "prio - 120 is nice");
    assert_eq!(row, vec!["3"]);

    // `pid` is pid_t (s32); arithmetic keeps it signed, so `~pid` prints as -(pid + 1).
    let query = format!(
        "from task select pid * 2 + 1 as x, pid % 7 as m, pid >> 1 as h, pid & 0xff as lo, ~pid as inv where pid == {pid}"
    );
    let (header, rows) = query_csv(&query, &[]);
    assert_eq!(header, vec!["x", "m", "h", "lo", "inv"]);
    let p = i32::try_from(pid).expect("pid fits pid_t");
    let expected: Vec<String> = [
        i64::from(p) * 2 + 1,
        i64::from(p % 7),
        i64::from(p >> 1),
        i64::from(p & 0xff),
        i64::from(!p),
    ]
    .iter()
    .map(i64::to_string)
    .collect();
    assert_eq!(rows, vec![expected]);
}

#[test]
fn signed_fields_stay_negative() {
    let _k = shared_kernel();
    let child = Named::spawn_via(&["nice", "-n", "-5"], &unique_name("sg"));
    let query = format!(
        "from task select nice, task.static_prio - 130 as d where pid == {}",
        child.pid()
    );
    let row = single_row(&query, &[]);
    assert_eq!(row[0], proc_stat_field(child.pid(), 19), "/proc nice");
    assert_eq!(row, vec!["-5", "-15"]);
}

#[test]
fn casts_truncate_and_reinterpret() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("ca"));
    let pid = child.pid();
    let query = format!(
        "from task select cast(pid as u8) as low, cast(-1 as u32) as all_ones, cast(pid as u16) as mid where pid == {pid}"
    );
    let row = single_row(&query, &[]);
    assert_eq!(
        row,
        vec![
            (pid & 0xff).to_string(),
            "4294967295".to_string(),
            (pid & 0xffff).to_string()
        ]
    );
}

/// task_struct has no enum-typed member of its own on 6.18 (searched with `bpftool btf dump
/// file /sys/kernel/btf/vmlinux format raw`, anonymous members flattened); the nearest is
/// `restart_block.nanosleep.type` (enum timespec_type), in a union that overlays pointers.
/// clock_nanosleep with a remaining-time pointer (as sleep(1) passes) stores TT_NATIVE there.
#[test]
fn enum_member_renders_by_name() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("en"));
    wait_for_state(child.pid(), "S");
    let query = format!(
        "from task select pid, task.restart_block.nanosleep.type as t where pid == {}",
        child.pid()
    );
    assert_eq!(single_row(&query, &[])[1], "TT_NATIVE");
    let json = bpfq_ok(&[&query, "-o", "json"]);
    assert!(json.contains("\"t\":\"TT_NATIVE\""), "{json}");
}

/// `cast(condition as u8)` and `if(condition, a, b)` compute values from conditions in the kernel.
#[test]
fn conditions_as_values() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("i"));
    let query = format!(
        "from task select pid, cast(comm == \"{}\" as u8) as named, if(task.mm is null, 0, task.mm.total_vm) as vm, if(pid > 1 and tid == pid, 1, -1) as leader where pid == {} or pid == 2",
        child.name,
        child.pid()
    );
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    let vm_kb: u64 = proc_status_first(child.pid(), "VmSize").parse().unwrap();
    let mut expected = vec![
        "2,0,0,1".to_string(),
        format!("{},1,{},1", child.pid(), vm_kb / 4),
    ];
    expected.sort();
    assert_eq!(lines, expected);
}

/// A constant shift count is taken modulo 64, as BPF takes a count held in a register and as
/// constant folding does (the verifier refused `<< 99` as an immediate before).
#[test]
fn constant_shift_counts_wrap_at_64() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("sh"));
    let pid = child.pid() as u64;
    let query = format!(
        "from task select pid << 99, pid >> 65, cast(pid as u64) << 64, pid << $n where pid == {pid}"
    );
    let row = single_row(&query, &["--param", "n=70"]);
    let expected = [pid << 35, pid >> 1, pid, pid << 6].map(|v| v.to_string());
    assert_eq!(row, expected, "{query}");
}
