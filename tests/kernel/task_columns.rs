//! Kernel tests of the task columns ps users expect (state letter, tty, CPU times, network
//! namespace, environment size), each compared with /proc or ps for processes the test spawns.

use crate::common;

use common::netns::Namespace;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The one row of `query` (csv, header dropped) for `pid`'s columns: asserts there is one.
fn one_row(query: &str) -> Vec<String> {
    let (_, rows) = query_csv(query, &[]);
    assert_eq!(rows.len(), 1, "{query}: {rows:?}");
    rows.into_iter().next().unwrap()
}

fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -{name} {pid}");
}

#[test]
fn state_letter_is_the_letter_of_proc_stat() {
    let _k = shared_kernel();
    let sleeping = Named::spawn(&unique_name("ss"));
    let stopped = Named::spawn(&unique_name("st"));
    signal(stopped.pid(), "STOP");
    wait_for_state(stopped.pid(), "T");
    // A child that exits and is not reaped until the guard drops is a zombie.
    let zombie = KillOnDrop(Command::new("true").spawn().expect("true"));
    wait_for_state(zombie.pid(), "Z");
    let busy = spawn_python(&[], &["-c", "print(flush=True)\nwhile True: pass"]);
    let mut busy = busy;
    busy.first_line();
    wait_for_state(sleeping.pid(), "S");
    for (pid, letter) in [
        (sleeping.pid(), "S"),
        (stopped.pid(), "T"),
        (zombie.pid(), "Z"),
    ] {
        let query = format!("from task select state_letter where pid == {pid}");
        assert_eq!(one_row(&query), [letter], "{pid}");
        assert_eq!(proc_stat_field(pid, 3), letter, "/proc agrees for {pid}");
    }
    // A busy loop runs, or waits for a CPU the other tests hold: R, or S when it was sampled
    // at a preemption point.
    let query = format!("from task select state_letter where pid == {}", busy.pid());
    let letter = one_row(&query).remove(0);
    assert!(letter == "R" || letter == "S", "busy loop: {letter}");
    // The letter is what a filter compares with, in the kernel.
    let query = format!(
        "from task select pid where state_letter == \"Z\" and pid == {}",
        zombie.pid()
    );
    assert_eq!(one_row(&query), [zombie.pid().to_string()]);
    let query = format!(
        "from task select pid where state_letter != \"T\" and (pid == {} or pid == {})",
        stopped.pid(),
        sleeping.pid()
    );
    assert_eq!(one_row(&query), [sleeping.pid().to_string()]);
    signal(stopped.pid(), "CONT");
}

/// A python3 child that opens a pseudo-terminal and runs a sleep on it (the sleep's session
/// and controlling terminal), printing the sleep's pid.
struct OnTerminal {
    holder: KillOnDrop,
    pub pid: u32,
}

impl OnTerminal {
    fn spawn() -> OnTerminal {
        let script = "import os,pty,sys\n\
                      pid,fd=pty.fork()\n\
                      if pid==0: os.execvp('sleep',['sleep','300'])\n\
                      print(pid,flush=True)\n\
                      sys.stdin.read()\n";
        let mut holder = spawn_python(&[], &["-c", script]);
        let pid = holder
            .first_line()
            .trim()
            .parse()
            .expect("pid of the sleep");
        wait_for_comm(pid, "sleep");
        OnTerminal { holder, pid }
    }
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let _ = self.holder.0.kill();
    }
}

fn ps_tty(pid: u32) -> String {
    let out = Command::new("ps")
        .args(["-o", "tty=", "-p", &pid.to_string()])
        .output()
        .expect("ps (procps)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn tty_is_the_terminal_ps_shows() {
    let _k = shared_kernel();
    let on_terminal = OnTerminal::spawn();
    let without = Named::spawn(&unique_name("nt"));
    let expected = ps_tty(on_terminal.pid);
    assert!(expected.starts_with("pts/"), "ps: {expected}");
    let query = format!("from task select tty where pid == {}", on_terminal.pid);
    assert_eq!(one_row(&query), std::slice::from_ref(&expected));
    // No terminal: ps shows `?`, bpfq NULL (an empty csv field).
    assert_eq!(ps_tty(without.pid()), "?");
    let query = format!("from task select tty where pid == {}", without.pid());
    assert_eq!(one_row(&query), [""]);
    let query = format!(
        "from task select pid where tty == \"{expected}\" and (pid == {} or pid == {})",
        on_terminal.pid,
        without.pid()
    );
    assert_eq!(one_row(&query), [on_terminal.pid.to_string()]);
}

/// Field `number` (1-based) of /proc/PID/task/TID/stat.
fn thread_stat_field(pid: u32, tid: u32, number: usize) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).expect("stat");
    let after_comm = &stat[stat.rfind(')').expect("comm") + 1..];
    after_comm
        .split_whitespace()
        .nth(number - 3)
        .unwrap()
        .parse()
        .unwrap()
}

/// /proc shows CPU times in ticks of 1/100 s.
const TICK_NS: u64 = 10_000_000;

fn assert_near(what: &str, ns: u64, ticks: u64) {
    // /proc rounds each of utime and stime down to 1/100 s (fields 14 and 15).
    let proc_ns = ticks * TICK_NS;
    assert!(
        ns.abs_diff(proc_ns) < 2 * TICK_NS,
        "{what}: bpfq {ns} ns, /proc {proc_ns} ns"
    );
}

/// `share` of `total` in the ratio `part : whole`, as the kernel's cputime_adjust scales the
/// tick-sampled utime and stime to the exact run time.
fn scaled(total: u64, part: u64, whole: u64) -> u64 {
    (u128::from(total) * u128::from(part) / u128::from(whole.max(1))) as u64
}

#[test]
fn cpu_times_match_proc_for_a_thread_that_burns_cpu() {
    let _k = shared_kernel();
    // A thread burns 0.3 s and exits, then another burns until the process is stopped.
    let script = "import threading,time,sys\n\
                  def burn(seconds):\n\
                  \x20   end=time.thread_time()+seconds\n\
                  \x20   while seconds==0 or time.thread_time()<end: pass\n\
                  t=threading.Thread(target=burn,args=(0.3,)); t.start(); t.join()\n\
                  t=threading.Thread(target=burn,args=(0,),daemon=True); t.start()\n\
                  time.sleep(0.05)\n\
                  print(t.native_id,flush=True)\n\
                  sys.stdin.read()\n";
    let mut holder = spawn_python(&[], &["-c", script]);
    let tid: u32 = holder.first_line().trim().parse().expect("tid");
    let pid = holder.pid();
    // Burn 0.2 s of CPU (20 ticks), however busy the machine's CPUs are.
    let deadline = Instant::now() + Duration::from_secs(30);
    while thread_stat_field(pid, tid, 14) < 20 {
        assert!(Instant::now() < deadline, "the thread never burned 0.2 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(pid, "STOP");
    wait_for_state(pid, "T");
    let query = format!("from task select utime, stime, cpu_time where tid == {tid}");
    let row: Vec<u64> = one_row(&query).iter().map(|v| v.parse().unwrap()).collect();
    let (utime, stime, cpu_time) = (row[0], row[1], row[2]);
    assert!(utime > 100_000_000, "the thread burned user time: {utime}");
    let (proc_utime, proc_stime) = (
        thread_stat_field(pid, tid, 14),
        thread_stat_field(pid, tid, 15),
    );
    assert_near("cpu_time", cpu_time, proc_utime + proc_stime);
    assert_near("utime", scaled(cpu_time, utime, utime + stime), proc_utime);
    assert_near("stime", scaled(cpu_time, stime, utime + stime), proc_stime);
    // ps's TIME: every live thread's time plus the exited threads' (/proc/PID/stat 14 + 15).
    let query = format!(
        "from task select sum(cpu_time), max(exited_cpu_time) where pid == {pid} group by pid"
    );
    let row: Vec<u64> = one_row(&query).iter().map(|v| v.parse().unwrap()).collect();
    assert!(
        row[1] >= 250_000_000,
        "the exited thread's 0.3 s: {}",
        row[1]
    );
    let ticks = |field| -> u64 { proc_stat_field(pid, field).parse().unwrap() };
    let process_ticks = ticks(14) + ticks(15);
    assert_near("process", row[0] + row[1], process_ticks);
    signal(pid, "CONT");
}

fn netns_inode(pid: u32) -> String {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("ns link");
    let link = link.to_string_lossy();
    link.trim_start_matches("net:[")
        .trim_end_matches(']')
        .to_string()
}

#[test]
fn netns_is_the_namespace_inode_and_null_for_a_zombie() {
    let _k = shared_kernel();
    let ns = Namespace::create("tc");
    let inside = Named::spawn_via(&["ip", "netns", "exec", &ns.0], &unique_name("ni"));
    let outside = Named::spawn(&unique_name("no"));
    let zombie = KillOnDrop(Command::new("true").spawn().expect("true"));
    wait_for_state(zombie.pid(), "Z");
    assert_ne!(netns_inode(inside.pid()), netns_inode(outside.pid()));
    for pid in [inside.pid(), outside.pid()] {
        let query = format!("from task select netns where pid == {pid}");
        assert_eq!(one_row(&query), [netns_inode(pid)], "{pid}");
    }
    let query = format!("from task select netns where pid == {}", zombie.pid());
    assert_eq!(one_row(&query), [""], "a zombie has no namespaces");
}

#[test]
fn env_size_is_the_length_of_proc_environ() {
    let _k = shared_kernel();
    let child = KillOnDrop(
        Command::new("sleep")
            .arg("300")
            .env_clear()
            .env("BPFQ_A", "xyz")
            .env("B", "")
            .stdout(Stdio::null())
            .spawn()
            .expect("sleep"),
    );
    wait_for_comm(child.pid(), "sleep");
    let environ = std::fs::read(format!("/proc/{}/environ", child.pid())).expect("environ");
    let mut strings: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
    strings.sort();
    assert_eq!(strings, [&b""[..], b"B=", b"BPFQ_A=xyz"], "{environ:?}");
    let query = format!("from task select env_size where pid == {}", child.pid());
    assert_eq!(one_row(&query), [environ.len().to_string()]);
}
