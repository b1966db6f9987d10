//! `bpfq run FILE [NAME]`: a query file with named queries, typed parameters with defaults and
//! a column of its own, run against processes this test spawns and checked against /proc; bad
//! names and values give coded diagnostics, exit 2, and leave no BPF object behind.

use crate::common;

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
fn query_names_complete_after_the_file_of_run_and_explain() {
    let file = QueryFile::new("complete");
    let out = bpfq_ok(&["__complete", "3", "bpfq", "run", &file.path, "by_"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["by_name", "by_pid"]);
    let out = bpfq_ok(&[
        "__complete",
        "4",
        "bpfq",
        "explain",
        "-f",
        &file.path,
        "by_",
    ]);
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

#[test]
fn a_leading_byte_order_mark_is_skipped() {
    let file = QueryFile::new("bom");
    let text = format!("\u{feff}{FILE}");
    std::fs::write(&file.path, text).expect("write query file");
    let out = bpfq_ok(&["check", &file.path, "--param", "pid=1"]);
    assert_eq!(
        out,
        format!("ok      {0} by_name\nok      {0} by_pid\n", file.path)
    );
    let out = bpfq_ok(&["fmt", &file.path]);
    assert!(
        out.starts_with("-- Processes"),
        "the canonical form has no mark: {out:?}"
    );
}

/// A query file in a scratch directory, next to the modules it uses, plus a directory standing
/// for `$BPFQ_PATH` and an empty HOME; removed on drop.
struct ModuleTree {
    dir: std::path::PathBuf,
}

impl ModuleTree {
    fn new(tag: &str, files: &[(&str, &str)]) -> ModuleTree {
        let dir = std::env::temp_dir().join(format!("bpfq-mod-{tag}-{}", std::process::id()));
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).expect("module dir");
            std::fs::write(&path, text).expect("write module");
        }
        std::fs::create_dir_all(dir.join("home")).expect("home");
        ModuleTree { dir }
    }

    fn path(&self, relative: &str) -> String {
        self.dir.join(relative).display().to_string()
    }

    /// `bpfq ARGS` with `$BPFQ_PATH` = DIR/path and HOME = DIR/home.
    fn bpfq(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(bpfq_path())
            .args(args)
            .env("BPFQ_PATH", self.dir.join("path"))
            .env("HOME", self.dir.join("home"))
            .output()
            .expect("bpfq runs")
    }
}

impl Drop for ModuleTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const FAMILY: &str = "\
--- The parent process's command name (real_parent is the forking thread: its leader's comm).
column task.parent_comm = task.real_parent.group_leader.comm;
--- The grandparent's process id.
column task.grandparent = task.real_parent.real_parent.tgid;

param parent: u32;
--- Processes started by $parent (run as `bpfq run FILE procs.family.children`).
query children = from task select pid, comm, parent_comm where ppid == $parent and tid == pid;
";

const USES_MODULES: &str = "\
use procs.family;
use ids;
use std.task;
param pid: u32;
query family = from task select pid, comm, parent_comm, grandparent, tgid_times_3
  where pid == $pid and tid == pid;
";

/// A module found on `$BPFQ_PATH`, not beside the query file.
const IDS: &str = "column task.tgid_times_3 = task.tgid * 3;\n";

#[test]
fn used_modules_give_columns_that_agree_with_proc() {
    let _k = shared_kernel();
    let tree = ModuleTree::new(
        "run",
        &[
            ("queries/family.bpfq", USES_MODULES),
            ("queries/procs/family.bpfq", FAMILY),
            ("path/ids.bpfq", IDS),
        ],
    );
    let child = Named::spawn(&unique_name("qmod"));
    let pid = child.pid();
    let out = tree.bpfq(&[
        "run",
        &tree.path("queries/family.bpfq"),
        "--param",
        &format!("pid={pid}"),
        "-o",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ppid: u32 = proc_status_first(pid, "PPid").parse().unwrap();
    let parent_comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).unwrap();
    let grandparent = proc_status_first(ppid, "PPid");
    assert_eq!(
        csv_rows(&stdout(&out)),
        vec![vec![
            pid.to_string(),
            child.name.clone(),
            parent_comm.trim().to_string(),
            grandparent,
            (pid * 3).to_string(),
        ]],
        "the modules' columns agree with /proc"
    );
    // A query of a used module runs by its dotted name, with the module's own parameters.
    let me = std::process::id();
    let out = tree.bpfq(&[
        "run",
        &tree.path("queries/family.bpfq"),
        "procs.family.children",
        "--param",
        &format!("parent={me}"),
        "-o",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let my_comm = std::fs::read_to_string(format!("/proc/{me}/comm")).unwrap();
    let rows = csv_rows(&stdout(&out));
    assert!(
        rows.contains(&vec![
            pid.to_string(),
            child.name.clone(),
            my_comm.trim().to_string()
        ]),
        "{rows:?}"
    );
    for row in &rows {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", row[0])) {
            assert!(status.contains(&format!("\nPPid:\t{me}\n")), "{row:?}");
        }
    }
    let wrong = tree.bpfq(&[
        "run",
        &tree.path("queries/family.bpfq"),
        "procs.familly.children",
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("did you mean `procs.family`?"),
        "{}",
        stderr(&wrong)
    );
}

#[test]
fn check_follows_use_and_fails_on_a_missing_module() {
    let btf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/btf/linux-6.18.btf.xz"
    );
    let tree = ModuleTree::new(
        "check",
        &[
            ("queries/family.bpfq", USES_MODULES),
            ("queries/procs/family.bpfq", FAMILY),
            (
                "queries/orphan.bpfq",
                "use procs.family;\nuse ids;\nfrom task select parent_comm\n",
            ),
        ],
    );
    let family = tree.path("queries/family.bpfq");
    let orphan = tree.path("queries/orphan.bpfq");
    let out = tree.bpfq(&["check", "--btf", btf, "--param", "pid=1", &family, &orphan]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        [format!("FAILED  {family}"), format!("FAILED  {orphan}")],
        "ids.bpfq is on no search path: both files fail, each once"
    );
    assert_eq!(
        err.matches("error[E0119]: no module `ids`").count(),
        2,
        "{err}"
    );
    assert!(
        err.contains(&format!("looked for ids.bpfq in: {}", tree.path("queries"))),
        "{err}"
    );
    std::fs::create_dir_all(tree.dir.join("path")).unwrap();
    std::fs::write(tree.dir.join("path/ids.bpfq"), IDS).unwrap();
    let out = tree.bpfq(&["check", "--btf", btf, "--param", "pid=1", &family, &orphan]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        [
            format!("ok      {family} family"),
            format!("ok      {orphan}")
        ]
    );
    // A module (definitions, no query) is checked column by column.
    std::fs::write(
        tree.dir.join("path/more.bpfq"),
        "use ids;\ncolumn task.gone = task.no_such_member;\ndefaults task: pid, tgid_times_3;\n",
    )
    .unwrap();
    let (ids, more) = (tree.path("path/ids.bpfq"), tree.path("path/more.bpfq"));
    let out = tree.bpfq(&["check", "--btf", btf, &ids, &more]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        [
            format!("ok      {ids} column task.tgid_times_3"),
            format!("FAILED  {more} column task.gone"),
            format!("ok      {more} defaults task"),
        ]
    );
    assert!(stderr(&out).contains("error[E0107]"), "{}", stderr(&out));
}

#[test]
fn explain_shows_a_query_of_a_file_with_its_modules() {
    let btf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/btf/linux-6.18.btf.xz"
    );
    let tree = ModuleTree::new(
        "explain",
        &[
            ("queries/family.bpfq", USES_MODULES),
            ("queries/procs/family.bpfq", FAMILY),
            ("path/ids.bpfq", IDS),
        ],
    );
    let file = tree.path("queries/family.bpfq");
    let explained = tree.bpfq(&[
        "explain", "-f", &file, "family", "--btf", btf, "--param", "pid=42",
    ]);
    assert!(explained.status.success(), "{}", stderr(&explained));
    // The only query of the file needs no name.
    let unnamed = tree.bpfq(&["explain", "--btf", btf, "--param", "pid=42", "-f", &file]);
    assert_eq!(stdout(&unnamed), stdout(&explained));
    insta::assert_snapshot!(stdout(&explained));
    let missing = tree.bpfq(&["explain", "-f", &file, "--btf", btf]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("error[E0114]"),
        "{}",
        stderr(&missing)
    );
}

/// A top-level file of `$BPFQ_PATH` (loaded for every query, command-line ones too) brings the
/// modules it uses; a module it cannot find fails every query with E0119.
#[test]
fn user_files_on_the_search_path_follow_their_use() {
    let _k = shared_kernel();
    let tree = ModuleTree::new(
        "userlib",
        &[
            (
                "path/mine.bpfq",
                "use extra.ids;\ncolumn task.own_tid = task.pid;\n",
            ),
            ("path/extra/ids.bpfq", IDS),
        ],
    );
    let me = std::process::id();
    let query = format!("from task select own_tid, tgid_times_3 where tid == {me}");
    let out = tree.bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("{me},{}", me * 3));
    std::fs::write(tree.dir.join("path/broken.bpfq"), "use extra.gone;\n").unwrap();
    let out = tree.bpfq(&[&query]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("error[E0119]: no module `extra.gone`"),
        "{}",
        stderr(&out)
    );
    let searched = format!("looked for extra/gone.bpfq in: {}", tree.path("path"));
    assert!(stderr(&out).contains(&searched), "{}", stderr(&out));
}
