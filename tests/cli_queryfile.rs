//! `bpfq run FILE [NAME]`: a query file with named queries, typed parameters with defaults and
//! a column of its own, run against processes this test spawns and checked against /proc; bad
//! names and values give coded diagnostics, exit 2, and leave no BPF object behind.

mod common;

use common::*;

const FILE: &str = "\
-- Processes by name or pid (a test file).
--- The process to look at.
param pid: u32;
param name: string = \"nobody-has-it\";

--- The parent's process id, through the real parent.
column task.parent_pid = task.real_parent.tgid;

query by_name = from task select pid, comm, parent_pid where comm == $name;
query by_pid = from task select pid, comm where pid == $pid;
";

struct QueryFile {
    dir: std::path::PathBuf,
    path: String,
}

impl QueryFile {
    fn new(tag: &str) -> QueryFile {
        let dir = std::env::temp_dir().join(format!("bpfq-qf-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("procs.bpfq");
        std::fs::write(&path, FILE).expect("write query file");
        QueryFile {
            path: path.display().to_string(),
            dir,
        }
    }
}

impl Drop for QueryFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn named_queries_run_with_their_parameters() {
    let _k = shared_kernel();
    let file = QueryFile::new("run");
    let child = Named::spawn(&unique_name("qfile"));
    let by_name = bpfq_ok(&[
        "run",
        &file.path,
        "by_name",
        "--param",
        &format!("name={}", child.name),
        "-o",
        "csv",
    ]);
    let ppid = proc_status_first(child.pid(), "PPid");
    assert_eq!(
        csv_rows(&by_name),
        vec![vec![child.pid().to_string(), child.name.clone(), ppid]],
        "pid, comm and the file's own column agree with /proc"
    );
    let by_pid = bpfq_ok(&[
        "run",
        &file.path,
        "by_pid",
        "--param",
        &format!("pid={}", child.pid()),
        "-o",
        "csv",
    ]);
    assert_eq!(
        csv_rows(&by_pid),
        vec![vec![child.pid().to_string(), child.name.clone()]]
    );
    // The default of `name` matches no process; `pid` is not needed by this query.
    let by_default = bpfq_ok(&["run", &file.path, "by_name", "-o", "csv"]);
    assert_eq!(csv_rows(&by_default), Vec::<Vec<String>>::new());
}

#[test]
fn query_names_complete_after_the_file() {
    let file = QueryFile::new("complete");
    let out = bpfq_ok(&["__complete", "3", "bpfq", "run", &file.path, "by_"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["by_name", "by_pid"]);
}

#[test]
fn bad_names_and_values_are_coded_errors_and_load_nothing() {
    let _k = exclusive_kernel();
    let file = QueryFile::new("errors");
    let baseline = bpf_objects();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["by_nam"], "E0111", "did you mean `by_name`?"),
        (&[], "E0112", "by_name | by_pid"),
        (&["by_pid"], "E0114", "--param pid=VALUE"),
        (
            &["by_pid", "--param", "pid=-1"],
            "E0208",
            "out of range for u32",
        ),
        (
            &["by_pid", "--param", "pid=init"],
            "E0208",
            "not an integer",
        ),
    ];
    for (extra, code, hint) in cases {
        let mut args = vec!["run", file.path.as_str()];
        args.extend_from_slice(extra);
        let out = bpfq(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&format!("error[{code}]")), "{args:?}: {err}");
        assert!(err.contains(hint), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_objects_return_to(baseline, "query file errors");
}
