//! Every query file in examples/ runs on the live kernel; results are checked against /proc for
//! this test's own process.

use crate::common;

use common::socket_maps::SocketMap;
use common::*;

fn run_example(name: &str, extra: &[&str]) -> String {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut args = vec!["-f", path.as_str(), "-o", "csv"];
    args.extend_from_slice(extra);
    let out = bpfq(&args);
    assert!(out.status.success(), "{name}: {}", stderr(&out));
    stdout(&out)
}

/// The `query NAME =` items of an example file, read off its lines; `[None]` for a file that
/// is a single query.
fn query_names(file: &str) -> Vec<Option<String>> {
    let text = std::fs::read_to_string(format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR")))
        .expect("example readable");
    let names: Vec<Option<String>> = text
        .lines()
        .filter_map(|l| l.strip_prefix("query "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|name| Some(name.to_string()))
        .collect();
    if names.is_empty() {
        vec![None]
    } else {
        names
    }
}

fn run_named(file: &str, query: &str) -> String {
    let path = format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let out = bpfq(&["run", &path, query, "-o", "csv"]);
    assert!(out.status.success(), "{file} {query}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn named_queries_of_a_file_find_this_tests_listener() {
    let _k = shared_kernel();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().unwrap().port();
    let path = format!("{}/examples/sockets.bpfq", env!("CARGO_MANIFEST_DIR"));
    let on_port = bpfq_ok(&[
        "run",
        &path,
        "on_port",
        "--param",
        &format!("port={port}"),
        "-o",
        "csv",
    ]);
    assert_eq!(
        csv_rows(&on_port),
        vec![vec![
            "inet".to_string(), // AF_INET, by name
            "127.0.0.1".to_string(),
            port.to_string(),
            "0.0.0.0".to_string(),
            "0".to_string(),
            "TCP_LISTEN".to_string()
        ]]
    );
    let listeners = bpfq_ok(&["run", &path, "listeners", "-o", "csv"]);
    let ours = listeners
        .lines()
        .filter(|l| l.starts_with(&format!("127.0.0.1,{port},")))
        .count();
    assert_eq!(ours, 1, "{listeners}");
}

#[test]
fn every_example_runs() {
    let _k = shared_kernel();
    let dir = format!("{}/examples", env!("CARGO_MANIFEST_DIR"));
    let me = std::process::id().to_string();
    // Map-parametrised examples (sk_storage.bpfq) get a socket-local storage map of their own.
    let storage = SocketMap::create(
        "sk_storage",
        &format!("/sys/fs/bpf/{}", unique_name("exs")),
        1,
    );
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".bpfq") {
            continue;
        }
        // Each example gets the parameters it uses (an unused `--param` is E0022).
        let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("example readable");
        let mut params = Vec::new();
        for (param, value) in [("pid", me.clone()), ("map", storage.path.clone())] {
            if text.contains(&format!("${param}")) {
                params.extend(["--param".to_string(), format!("{param}={value}")]);
            }
        }
        let params: Vec<&str> = params.iter().map(String::as_str).collect();
        if let Some(target) = refused_target(&format!("{dir}/{name}")) {
            // A kernel that refuses this example's target whatever bpfq emits (see
            // `doctor_verdict`): the example must fail with exit 1 and name this kernel.
            let path = format!("{dir}/{name}");
            let mut args = vec!["-f", path.as_str()];
            args.extend_from_slice(&params);
            let out = bpfq(&args);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{name} on {target}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("this kernel"),
                "{name}: {}",
                stderr(&out)
            );
            ran += 1;
            continue;
        }
        for query in query_names(&name) {
            let text = match &query {
                // A file of named queries runs each by name through `bpfq run`.
                Some(query) => run_named(&name, query),
                None => run_example(&name, &params),
            };
            assert!(
                text.lines().count() >= 1,
                "{name} {query:?} printed no header:\n{text}"
            );
            ran += 1;
        }
    }
    assert!(ran >= 4, "examples/ holds the example queries");
}

/// The target of a single-query example file that this kernel refuses (`bpfq doctor` says
/// unavailable), if it is one.
fn refused_target(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).expect("example readable");
    if !query_names_of(&text).is_empty() {
        return None;
    }
    let target = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .find_map(|l| l.trim_start().strip_prefix("from "))?
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()?
        .to_string();
    (doctor_verdict(&target).0 == "unavailable").then_some(target)
}

fn query_names_of(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("query "))
        .collect()
}

#[test]
fn threads_of_lists_this_process_threads() {
    let _k = shared_kernel();
    let me = std::process::id();
    let text = run_example("threads_of.bpfq", &["--param", &format!("pid={me}")]);
    let mut tids: Vec<u32> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    tids.sort();
    let mut expected: Vec<u32> = std::fs::read_dir(format!("/proc/{me}/task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    expected.sort();
    // Test harness threads come and go; the main thread is always there and no stranger is.
    assert!(tids.contains(&me), "{tids:?}");
    for tid in &tids {
        assert!(
            expected.contains(tid)
                || !std::path::Path::new(&format!("/proc/{me}/task/{tid}")).exists(),
            "{tid} is not ours"
        );
    }
}

#[test]
fn kernel_threads_have_no_mm() {
    let _k = shared_kernel();
    let text = run_example("kernel_threads.bpfq", &[]);
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let pid = line.split(',').next().unwrap();
        // A kernel thread's /proc/PID/status has no VmSize line (it has no address space).
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            assert!(!status.contains("VmSize"), "{pid} has an mm: {line}");
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "a Linux system always has kernel threads (kthreadd)"
    );
}

/// `PPid` of /proc/PID/status and the process's comm.
fn parent_and_comm(pid: u32) -> (u32, String) {
    let ppid = proc_status_first(pid, "PPid").parse().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    (ppid, comm.trim().to_string())
}

#[test]
fn ancestors_follow_the_ppid_chain_of_proc() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("anc"));
    let pid = child.pid();
    let text = run_example("ancestors.bpfq", &["--param", &format!("pid={pid}")]);
    let rows = csv_rows(&text);
    let mut want = vec![pid.to_string(), child.name.clone()];
    let mut at = pid;
    for _ in 0..3 {
        // pid 0 (the idle task) has no /proc entry and is its own parent.
        let parent = if at == 0 { 0 } else { parent_and_comm(at).0 };
        let comm = if parent == 0 {
            "swapper/0".to_string()
        } else {
            parent_and_comm(parent).1
        };
        want.extend([parent.to_string(), comm]);
        at = parent;
    }
    assert_eq!(rows, vec![want], "{text}");
}

/// Seconds since the epoch of a date `date(1)` reads (ps's `lstart`, bpfq's `started`), in UTC.
fn epoch_seconds(text: &str) -> i64 {
    let out = std::process::Command::new("date")
        .env("TZ", "UTC")
        .args(["-d", text, "+%s"])
        .output()
        .expect("date");
    assert!(out.status.success(), "date -d {text:?}");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("seconds")
}

#[test]
fn ps_ef_shows_processes_not_threads_as_ps_does() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("psef"));
    let pid = child.pid();
    let out = std::process::Command::new(bpfq_path())
        .env("TZ", "UTC")
        .args([
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ps_ef.bpfq"),
        ])
        .args(["-o", "csv"])
        .output()
        .expect("bpfq runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows = csv_rows(&text);
    let pids: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    let mut unique = pids.clone();
    unique.dedup();
    assert_eq!(pids, unique, "one row per process, ordered by pid");
    // This test binary runs threads; only its main thread (tid == pid) is a row.
    let me = std::process::id();
    assert_eq!(pids.iter().filter(|p| **p == me.to_string()).count(), 1);
    // The test's process and its child (no terminal), field by field against ps itself.
    for pid in [me, pid] {
        let row = rows
            .iter()
            .find(|r| r[1] == pid.to_string())
            .unwrap_or_else(|| panic!("{pid} listed:\n{text}"));
        let ps = std::process::Command::new("ps")
            .env("TZ", "UTC")
            .args([
                "-o",
                "uid=,pid=,ppid=,tty=,comm=,lstart=",
                "-p",
                &pid.to_string(),
            ])
            .output()
            .expect("ps (procps)");
        let ps = String::from_utf8_lossy(&ps.stdout).to_string();
        let fields: Vec<&str> = ps.split_whitespace().collect();
        assert!(fields.len() >= 6, "ps -p {pid}: {ps:?}");
        let tty = if fields[3] == "?" { "" } else { fields[3] };
        assert_eq!(
            [&row[0], &row[1], &row[2], &row[4], &row[5]],
            [fields[0], fields[1], fields[2], tty, fields[4]],
            "uid, pid, ppid, tty, comm of {pid}: bpfq {row:?}, ps {ps:?}"
        );
        // ps adds /proc/stat's btime (whole seconds) to the start in clock ticks; bpfq adds the
        // boot time read to the nanosecond: they may straddle a second.
        let lstart = fields[5..].join(" ");
        let apart = epoch_seconds(&row[3]) - epoch_seconds(&lstart);
        assert!(apart.abs() <= 1, "started {} vs ps lstart {lstart}", row[3]);
    }
}

#[test]
fn open_files_paths_are_the_fd_links() {
    let _k = shared_kernel();
    let child = Named::spawn_program(
        &["sh", "-c", "exec 3</etc/passwd 4</etc; exec \"$0\" \"$@\""],
        "/bin/sleep",
        &["300"],
        &unique_name("lsof"),
        std::process::Stdio::null,
    );
    let pid = child.pid();
    let text = run_example("open_files.bpfq", &["--param", &format!("pid={pid}")]);
    let got: Vec<(String, String)> = csv_rows(&text)
        .into_iter()
        .map(|r| (r[2].clone(), r[7].clone()))
        .collect();
    let mut fds: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    fds.sort();
    let want: Vec<(String, String)> = fds
        .iter()
        .map(|fd| {
            let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
            (fd.to_string(), link.display().to_string())
        })
        .collect();
    assert!(want.contains(&("3".to_string(), "/etc/passwd".to_string())));
    assert!(want.contains(&("4".to_string(), "/etc".to_string())));
    assert_eq!(got, want, "{text}");
}

/// children_of.bpfq takes three of its columns from the module examples/lib/family.bpfq
/// (`use lib.family`): a child this test starts is listed with this process's name and parent.
#[test]
fn children_of_uses_its_module_and_agrees_with_proc() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("kid"));
    let me = std::process::id();
    let text = run_example("children_of.bpfq", &["--param", &format!("pid={me}")]);
    let rows = csv_rows(&text);
    let comm = std::fs::read_to_string(format!("/proc/{me}/comm")).unwrap();
    let ppid = proc_status_first(me, "PPid");
    let row = rows
        .iter()
        .find(|r| r[0] == child.pid().to_string())
        .unwrap_or_else(|| panic!("child {} missing:\n{text}", child.pid()));
    assert_eq!(
        row,
        &vec![
            child.pid().to_string(),
            child.name.clone(),
            comm.trim().to_string(),
            ppid
        ]
    );
    // Every row is a process (not a thread) whose parent is this process, as /proc says.
    for row in &rows {
        let pid: u32 = row[0].parse().unwrap();
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            assert!(status.contains(&format!("\nPPid:\t{me}\n")), "{row:?}");
            assert!(status.contains(&format!("\nTgid:\t{pid}\n")), "{row:?}");
        }
    }
}
