//! bpfq run by an unprivileged user (nobody, no capabilities): every refusal of the kernel
//! names the capability its operation needs (kernel/bpf/syscall.c) instead of a bare
//! "Operation not permitted", and exits 1 (or 2 for a query that cannot bind).

use crate::common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A copy of the bpfq binary that nobody may execute, in a directory nobody may enter.
struct NobodysCopy(PathBuf);

impl NobodysCopy {
    fn new() -> NobodysCopy {
        let dir = std::env::temp_dir().join(format!("bpfq-nobody-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let exe = dir.join("bpfq");
        std::fs::copy(bpfq_path(), &exe).expect("copy bpfq");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        NobodysCopy(dir)
    }

    /// Runs the copy as uid and gid 65534 with no supplementary groups.
    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(self.0.join("bpfq"))
            .args(args)
            .env("HOME", &self.0)
            .output();
        output.expect("setpriv runs")
    }
}

impl Drop for NobodysCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_refusal_names_the_missing_capability() {
    let _k = shared_kernel();
    let copy = NobodysCopy::new();
    let pin_path = format!("/sys/fs/bpf/{}", unique_name("nobody"));
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["from task select pid"],
            1,
            "not allowed to load BPF iterator programs: this process lacks CAP_BPF and \
             CAP_PERFMON (or CAP_SYS_ADMIN)",
        ),
        (
            &["from task select comm, count(pid) as n group by comm"],
            1,
            "not allowed to create the group map: this process lacks CAP_BPF and \
             CAP_PERFMON (or CAP_SYS_ADMIN)",
        ),
        (
            &["from unix select inode"],
            1,
            "BPF ring buffer that carries the rows: this process lacks CAP_BPF and \
             CAP_PERFMON (or CAP_SYS_ADMIN)",
        ),
        (
            &["pin", "from task select pid", &pin_path],
            1,
            "not allowed to create the format map (BPF_MAP_CREATE): this process lacks \
             CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)",
        ),
        (
            &["from bpf_map_elem(map = \"no_such_map\") select key"],
            2,
            "this process lacks CAP_SYS_ADMIN, which opening another program's map needs",
        ),
    ];
    for (args, code, words) in cases {
        let out = copy.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert!(!err.contains("Operation not permitted"), "{args:?}: {err}");
    }
    assert!(
        std::fs::symlink_metadata(&pin_path).is_err(),
        "nothing pinned"
    );
}
