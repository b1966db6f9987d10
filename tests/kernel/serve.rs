//! Kernel tests of `bpfq serve`: a real Prometheus (Debian's `prometheus`) scrapes it and its
//! PromQL answers are compared with the TCP sockets this test holds in a namespace of its own
//! and with /proc/PID/net/tcp{,6} there; 8 scrapes at once while processes come and go; the
//! capabilities left after loading (CapEff); the loopback default; files refused at start; a
//! query that breaks at run time and one past its time budget. Every child is killed by pid,
//! every namespace deleted, every temporary directory and pin removed.

use crate::common;
use common::netns::Namespace;
use common::proc_net::TCP_STATES;
use common::prometheus::{sample, text, wait_until, Prometheus, Serve, TempDir};
use common::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

/// Connections the holder leaves open, and those whose client closed.
const ESTABLISHED: usize = 5;
const HALF_CLOSED: usize = 3;

/// A python3 child holding TCP sockets in known states in `ns`.
fn hold_states(ns: &Namespace) -> KillOnDrop {
    let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/hold_tcp.py");
    let mut child = spawn_python(
        &["ip", "netns", "exec", &ns.0],
        &[helper, &ESTABLISHED.to_string(), &HALF_CLOSED.to_string()],
    );
    ready_port(&child.first_line());
    child
}

/// TCP sockets by state name in the namespace of `pid`, from /proc/PID/net/tcp and tcp6.
fn proc_states(pid: u32) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for file in ["tcp", "tcp6"] {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")).expect("proc");
        for line in table.lines().skip(1) {
            let state = line.split_whitespace().nth(3).expect("state column");
            let state = usize::from_str_radix(state, 16).expect("hex state");
            *counts.entry(TCP_STATES[state].to_string()).or_default() += 1;
        }
    }
    counts
}

/// A metric file counting the TCP sockets of the namespace of `pid` by state.
fn tcp_metric(pid: u32) -> String {
    format!(
        "--- TCP sockets of the test's namespace by state.\n\
         metric bpfq_test_tcp_sockets = from tcp(netns = {pid}) select state, count(*) as sockets group by state;\n"
    )
}

/// The `state` samples of bpfq_test_tcp_sockets in a scrape's text.
fn scraped_states(body: &str) -> BTreeMap<String, u64> {
    body.lines()
        .filter_map(|line| line.strip_prefix("bpfq_test_tcp_sockets{state=\""))
        .map(|rest| {
            let (state, value) = rest.split_once("\"} ").expect("a labelled sample");
            (state.to_string(), value.parse().expect("a count"))
        })
        .collect()
}

#[test]
fn prometheus_sees_the_tcp_states_of_the_tests_sockets() {
    let _k = shared_kernel();
    let ns = Namespace::create("serve");
    let holder = hold_states(&ns);
    let dir = TempDir::new("tcp");
    let file = dir.file("tcp.bpfq", &tcp_metric(holder.pid()));
    let serve = Serve::start(&[&text(&file)]);
    let expected = proc_states(holder.pid());
    assert_eq!(expected.get("TCP_LISTEN"), Some(&1), "{expected:?}");
    assert_eq!(
        expected.get("TCP_ESTABLISHED"),
        Some(&(2 * ESTABLISHED as u64))
    );
    assert_eq!(expected.get("TCP_CLOSE_WAIT"), Some(&(HALF_CLOSED as u64)));
    assert_eq!(expected.get("TCP_FIN_WAIT2"), Some(&(HALF_CLOSED as u64)));

    let prometheus = Prometheus::start(serve.port);
    let as_prometheus: Vec<(String, String)> = expected
        .iter()
        .map(|(state, count)| (state.clone(), count.to_string()))
        .collect();
    let seen = wait_until(Duration::from_secs(60), || {
        let got = prometheus.vector("bpfq_test_tcp_sockets", "state");
        (got == as_prometheus).then_some(got)
    });
    assert_eq!(
        seen.as_ref(),
        Some(&as_prometheus),
        "Prometheus's last answer: {:?}",
        prometheus.vector("bpfq_test_tcp_sockets", "state")
    );
    let grouping = prometheus.vector("bpfq_query_kernel_grouping", "query");
    assert_eq!(
        grouping,
        vec![("bpfq_test_tcp_sockets".to_string(), "1".to_string())]
    );
    let errors = prometheus.vector("bpfq_query_errors_total", "reason");
    assert_eq!(
        errors,
        vec![
            ("failed".to_string(), "0".to_string()),
            ("timeout".to_string(), "0".to_string())
        ]
    );

    // The same scrape in both formats, by what the scraper accepts.
    let plain = serve.scrape(None);
    assert!(
        plain.headers.contains("text/plain; version=0.0.4"),
        "{}",
        plain.headers
    );
    assert!(!plain.body.contains("# EOF"));
    assert_eq!(scraped_states(&plain.body), expected);
    let open = serve.scrape(Some("application/openmetrics-text; version=1.0.0"));
    assert!(
        open.headers.contains("application/openmetrics-text"),
        "{}",
        open.headers
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    assert_eq!(scraped_states(&open.body), expected);
    assert!(plain
        .body
        .contains("# HELP bpfq_test_tcp_sockets TCP sockets of the test's namespace by state."));
}

#[test]
fn eight_scrapes_at_once_while_processes_churn() {
    let _k = shared_kernel();
    let ns = Namespace::create("serve8");
    let holder = hold_states(&ns);
    let expected = proc_states(holder.pid());
    let dir = TempDir::new("churn");
    let tasks = "--- Threads by user.\nmetric bpfq_test_threads = from task select uid, count(*) as threads group by uid;\n";
    let tcp = dir.file("tcp.bpfq", &tcp_metric(holder.pid()));
    dir.file("tasks.bpfq", tasks);
    let serve = Serve::start(&[&text(&dir.0)]);
    let _ = tcp;

    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Processes started and killed by pid for as long as the scrapes run.
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let children: Vec<KillOnDrop> = (0..20)
                    .map(|_| KillOnDrop(Command::new("sleep").arg("5").spawn().expect("sleep")))
                    .collect();
                drop(children);
            }
        });
        for _round in 0..5 {
            let bodies: Vec<String> = std::thread::scope(|inner| {
                let scrapes: Vec<_> = (0..8)
                    .map(|_| inner.spawn(|| serve.scrape(None).body))
                    .collect();
                scrapes
                    .into_iter()
                    .map(|s| s.join().expect("scrape"))
                    .collect()
            });
            for body in &bodies {
                assert_eq!(scraped_states(body), expected, "{body}");
                let threads: u64 = body
                    .lines()
                    .filter_map(|l| l.strip_prefix("bpfq_test_threads{uid=\"0\"} "))
                    .map(|v| v.parse::<u64>().expect("a count"))
                    .sum();
                assert!(threads > 0, "root's threads are counted: {body}");
                for query in ["bpfq_test_tcp_sockets", "bpfq_test_threads"] {
                    for reason in ["failed", "timeout"] {
                        let labels = format!("{{query=\"{query}\",reason=\"{reason}\"}}");
                        assert_eq!(
                            sample(body, "bpfq_query_errors_total", &labels).as_deref(),
                            Some("0"),
                            "{body}"
                        );
                    }
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

/// CapEff of process `pid` as a mask.
fn effective_caps(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .expect("CapEff line");
    u64::from_str_radix(hex.trim(), 16).expect("hex mask")
}

#[test]
fn after_loading_only_the_capabilities_a_walk_needs_are_kept() {
    let _k = shared_kernel();
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_PERFMON: u64 = 1 << 38;
    const CAP_BPF: u64 = 1 << 39;
    let dir = TempDir::new("caps");
    // Grouped in user space over a seq program's rows: a walk only creates iterators of the
    // link loaded at start, which needs no capability.
    let plain = dir.file(
        "plain.bpfq",
        "metric bpfq_test_users = from task select uid, count(distinct pid) as n group by uid;\n",
    );
    let serve = Serve::start(&[&text(&plain)]);
    assert_eq!(effective_caps(serve.child.pid()), 0);
    let body = serve.scrape(None).body;
    assert!(body.contains("bpfq_test_users{uid=\"0\"}"), "{body}");
    drop(serve);

    // Grouped in the kernel: a walk that fills the group map loads the program again with a
    // larger one.
    let grouped = dir.file(
        "grouped.bpfq",
        "metric bpfq_test_states = from tcp select state, count(*) as n group by state;\n",
    );
    let serve = Serve::start(&[&text(&grouped)]);
    assert_eq!(effective_caps(serve.child.pid()), CAP_BPF | CAP_PERFMON);
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.child.pid())).unwrap();
    assert!(
        status.contains(&format!("CapPrm:\t{:016x}", CAP_BPF | CAP_PERFMON)),
        "{status}"
    );
    // And it keeps serving with what it kept.
    let body = serve.scrape(None).body;
    assert!(body.contains("bpfq_test_states{state=\""), "{body}");

    // Another namespace's sockets: setns at each walk keeps CAP_SYS_ADMIN (and CAP_SYS_PTRACE
    // for /proc/PID/ns/net of any process).
    let ns = Namespace::create("caps");
    let holder = hold_states(&ns);
    let other = dir.file("other.bpfq", &tcp_metric(holder.pid()));
    let serve = Serve::start(&[&text(&other)]);
    assert_eq!(
        effective_caps(serve.child.pid()),
        CAP_BPF | CAP_PERFMON | CAP_SYS_ADMIN | (1 << 19)
    );
}

#[test]
fn listens_on_loopback_by_default() {
    let _k = shared_kernel();
    let dir = TempDir::new("loopback");
    let file = dir.file(
        "states.bpfq",
        "metric bpfq_test_states = from tcp select state, count(*) as n group by state;\n",
    );
    // In a namespace of its own, the default port cannot clash with anything else.
    let ns = Namespace::create("lo");
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(bpfq_path())
        .args(["serve", &text(&file)])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("bpfq serve");
    let serve = KillOnDrop(child);
    // 127.0.0.1:9436 in /proc/net/tcp's notation, state 0A (LISTEN).
    let listening = wait_until(Duration::from_secs(60), || {
        let table = std::fs::read_to_string(format!("/proc/{}/net/tcp", serve.pid())).ok()?;
        let listeners: Vec<String> = table
            .lines()
            .skip(1)
            .filter(|l| l.split_whitespace().nth(3) == Some("0A"))
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect();
        // Until `ip` has entered the namespace and exec'd bpfq, the table is the host's.
        listeners
            .iter()
            .any(|l| l.ends_with(":24DC"))
            .then_some(listeners)
    });
    assert_eq!(listening, Some(vec!["0100007F:24DC".to_string()]));
}

/// `bpfq serve ARGS` that must refuse to start: its exit code and stderr (temporary paths
/// written as `<dir>`).
fn refused(args: &[&str], dir: &TempDir) -> (i32, String) {
    let out = bpfq(&[&["serve"], args].concat());
    let err = stderr(&out).replace(&text(&dir.0), "<dir>");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn files_that_cannot_be_served_are_refused_at_start() {
    let _k = shared_kernel();
    let dir = TempDir::new("refused");
    let not_a_number = dir.file(
        "names.bpfq",
        "metric names = from task select uid, min(comm) as first group by uid;\n",
    );
    let no_metric = dir.file("plain.bpfq", "query pids = from task select pid;\n");
    let first = dir.file(
        "a.bpfq",
        "metric tasks = from task select uid, count(*) as n group by uid;\n",
    );
    let second = dir.file(
        "b.bpfq",
        "metric tasks = from task select uid, count(*) as n group by uid;\n",
    );
    let own = dir.file(
        "own.bpfq",
        "metric bpfq_query_rows = from task select count(*) as n;\n",
    );
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to occupy");
    let busy_address = busy.local_addr().expect("address").to_string();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("E0921", vec![text(&not_a_number)]),
        ("E0926", vec![text(&no_metric)]),
        ("E0925", vec![text(&first), text(&second)]),
        ("E0925", vec![text(&own)]),
        (
            "E0927",
            vec!["--listen".into(), busy_address.clone(), text(&first)],
        ),
    ];
    let mut rendered = String::new();
    for (code, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, err) = refused(&args, &dir);
        assert_ne!(status, 0, "{args:?}: {err}");
        assert!(err.contains(&format!("error[{code}]")), "{args:?}: {err}");
        let err = err.replace(&busy_address, "<address>");
        rendered.push_str(&format!("### {code} (exit {status})\n{err}\n"));
    }
    insta::assert_snapshot!(rendered);
}

/// Runs bpftool with `args`, asserting success.
fn bpftool(args: &[&str]) {
    let status = Command::new("bpftool")
        .args(args)
        .status()
        .expect("bpftool");
    assert!(status.success(), "bpftool {args:?}");
}

/// A pinned map, unpinned on drop (the kernel frees it once nothing holds it).
struct PinnedMap(std::path::PathBuf);

impl Drop for PinnedMap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_query_breaking_at_run_time_is_counted_and_the_others_keep_working() {
    let _k = shared_kernel();
    let name = format!("bq_sv{}", std::process::id() % 100_000);
    let pin = PinnedMap(bpffs_root().join(&name));
    let pin_text = text(&pin.0);
    bpftool(&[
        "map", "create", &pin_text, "type", "hash", "key", "4", "value", "8", "entries", "8",
        "name", &name,
    ]);
    bpftool(&[
        "map", "update", "pinned", &pin_text, "key", "1", "0", "0", "0", "value", "7", "0", "0",
        "0", "0", "0", "0", "0",
    ]);
    let dir = TempDir::new("breaks");
    let file = dir.file(
        "m.bpfq",
        &format!(
            "metric bpfq_test_elements = from bpf_map_elem(map = \"{name}\") select count(*) as n;\n\
             metric bpfq_test_states = from tcp select state, count(*) as n group by state;\n"
        ),
    );
    let serve = Serve::start(&[&text(&file)]);
    let body = serve.scrape(None).body;
    assert_eq!(
        sample(&body, "bpfq_test_elements", "").as_deref(),
        Some("1"),
        "{body}"
    );

    drop(pin);
    // The map is gone once no fd holds it; bpfq holds none between walks.
    let failed = "{query=\"bpfq_test_elements\",reason=\"failed\"}";
    let broken = wait_until(Duration::from_secs(30), || {
        let body = serve.scrape(None).body;
        (sample(&body, "bpfq_query_errors_total", failed).as_deref() != Some("0")).then_some(body)
    })
    .expect("the run on the deleted map fails");
    assert_eq!(sample(&broken, "bpfq_test_elements", ""), None, "{broken}");
    assert!(broken.contains("bpfq_test_states{state=\""), "{broken}");
    let ok = "{query=\"bpfq_test_states\",reason=\"failed\"}";
    assert_eq!(
        sample(&broken, "bpfq_query_errors_total", ok).as_deref(),
        Some("0")
    );
    assert_eq!(serve.scrape(None).status, 200);
}

#[test]
fn a_query_past_its_time_budget_is_cut_off_and_reported() {
    let _k = shared_kernel();
    let dir = TempDir::new("budget");
    let file = dir.file(
        "tasks.bpfq",
        "metric bpfq_test_tasks = from task select uid, count(*) as n group by uid;\n",
    );
    // A budget no walk fits in.
    let serve = Serve::start(&["--query-timeout", "0.000001", &text(&file)]);
    let body = serve.scrape(None).body;
    let timeouts = "{query=\"bpfq_test_tasks\",reason=\"timeout\"}";
    let count: u64 = sample(&body, "bpfq_query_errors_total", timeouts)
        .expect("the timeout counter")
        .parse()
        .expect("a count");
    assert!(count >= 1, "{body}");
    assert!(
        !body.contains("bpfq_test_tasks{"),
        "nothing of a cut-off run: {body}"
    );
    assert_eq!(
        common::prometheus::get(serve.port, "/healthz", None).map(|r| r.status),
        Some(200)
    );
}
