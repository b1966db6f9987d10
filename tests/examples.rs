//! Every query file in examples/ runs on the live kernel; results are checked against /proc for
//! this test's own process.

mod common;

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
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".bpfq") {
            let text = run_example(
                &name,
                &[
                    "--param",
                    &format!("pid={me}"),
                    "--param",
                    &format!("map={}", storage.path),
                ],
            );
            assert!(
                text.lines().count() >= 1,
                "{name} printed no header:\n{text}"
            );
            ran += 1;
        }
    }
    assert!(ran >= 4, "examples/ holds the example queries");
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

#[test]
fn sk_storage_lists_the_sockets_holding_a_value() {
    let _k = shared_kernel();
    let storage = SocketMap::create(
        "sk_storage",
        &format!("/sys/fs/bpf/{}", unique_name("exk")),
        2,
    );
    let text = run_example(
        "sk_storage.bpfq",
        &["--param", &format!("map={}", storage.path)],
    );
    // family, src, sport, dst, dport, state, inode, value; ordered by inode.
    let rows: Vec<Vec<String>> = csv_rows(&text);
    let mut expected: Vec<Vec<String>> = storage
        .sockets
        .iter()
        .map(|s| {
            vec![
                "2".to_string(),
                "127.0.0.1".to_string(),
                s.sport.to_string(),
                "127.0.0.1".to_string(),
                s.dport.to_string(),
                "TCP_ESTABLISHED".to_string(),
                s.inode.to_string(),
                s.first.to_string(),
            ]
        })
        .collect();
    expected.sort_by_key(|row| row[6].parse::<u64>().unwrap());
    assert_eq!(rows, expected);
}
