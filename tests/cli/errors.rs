//! Bad input at the command line: each malformed query or argument gives a coded diagnostic (or
//! a usage message) on stderr, exit code 2, never a panic — and loads nothing into the kernel.

use crate::common;

use common::*;

const MALFORMED: &[&str] = &[
    "",
    "select pid",
    "from",
    "from task select",
    "from task selct pid",
    "from task select pid,",
    "from task select pid where",
    "from task select pid where pid ==",
    "from task select pid where pid == 1 == 2",
    "from task select (pid",
    "from task select pid)",
    "from task select comm where comm == \"unterminated",
    "from task select comm where comm == \"bad \\q escape\"",
    "from task select 99999999999999999999999",
    "from task select 0x",
    "from task select pid order pid",
    "from task select pid limit",
    "from task select pid limit -1",
    "from task select `order",
    "from task select from",
    "from tsk select pid",
    "from task select pdi",
    "from task select task.real_parent.tgidd",
    "from task select task.pid.x",
    "from task select task.sched_class.enqueue_task.x",
    "from task select task.cpus_mask.bits[9]",
    "from task select pid where pid == $missing",
    "from sockmap select *",
    "from task select pid where comm == 5",
    "from task select task.se",
    "from task select pid where comm == \"a-name-longer-than-sixteen\"",
    "from task select pid where pid",
    "from task select comm + 1",
    "from task select pid / 0",
    "from task select comm group by pid",
    "from task select pid where count(*) > 1",
    "from task_file join tcp on task_file.inode > tcp.inode select fd",
    "from task select pid ; from task select pid",
    "from task select pid where pid == 1 and",
    "from task select pid where not",
    "from task select task..pid",
    "from task select task.comm[",
    "\u{1}\u{2}\u{7f}",
    "from task select 'single quotes'",
];

#[test]
fn malformed_queries_give_coded_diagnostics() {
    let _k = exclusive_kernel();
    let baseline = bpf_objects();
    for query in MALFORMED {
        let out = bpfq(&[query]);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{query:?} should be a compile error (exit 2):\n{err}"
        );
        assert!(
            err.contains("error[E0"),
            "{query:?} has no coded diagnostic:\n{err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("E09"),
            "{query:?} hit a bug:\n{err}"
        );
        assert!(out.stdout.is_empty(), "{query:?} printed rows");
    }
    assert_objects_return_to(baseline, "after compile errors");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let _k = shared_kernel();
    for args in [
        vec![],
        vec!["from task select pid", "--param", "noequals"],
        vec!["from task select pid", "-o", "xml"],
        vec!["from task select pid", "--btf", "/nonexistent"],
        vec!["explain", "from task select pid", "--btf", "/nonexistent"],
        vec!["-f", "/nonexistent/query.bpfq"],
    ] {
        let out = bpfq(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{err}");
        assert!(
            !err.is_empty() && !err.contains("panicked"),
            "{args:?}:\n{err}"
        );
    }
}

#[test]
fn compile_only_commands_work_with_fixture_btf() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/btf/linux-5.10.btf.xz"
    );
    let out = bpfq(&["targets", "--btf", fixture]);
    assert!(out.status.success(), "{}", stderr(&out));
    let targets: Vec<String> = stdout(&out)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        targets.len(),
        11,
        "Linux 5.10 offers 11 iterator targets: {targets:?}"
    );
    assert!(targets.contains(&"task".to_string()) && !targets.contains(&"ksym".to_string()));
    // 5.10 still calls the state field `state`: the stdlib column absorbs the rename.
    let out = bpfq(&["explain", "from task select pid, state", "--btf", fixture]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("== BPF"), "{}", stdout(&out));
    let out = bpfq(&["describe", "task", "--btf", fixture]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let state_column = text
        .lines()
        .find(|l| l.trim_start().starts_with("state "))
        .expect("a state column");
    assert!(
        state_column.contains("s64"),
        "5.10's task_struct.state is a long: {state_column}"
    );
    assert!(!text.contains("unavailable"), "{text}");
    let out = bpfq(&["describe", "task.mm", "--btf", fixture]);
    assert!(stdout(&out).contains("total_vm"), "{}", stdout(&out));
    let out = bpfq(&["describe", "task.nosuch", "--btf", fixture]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("error[E0103]"), "{}", stderr(&out));
}

#[test]
fn without_privilege_the_load_is_refused_clearly_and_explain_still_works() {
    let _k = shared_kernel();
    // A copy anyone can execute: the build directory may sit under a private home.
    let dir = std::env::temp_dir().join(format!("bpfq-unpriv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("bpfq");
    std::fs::copy(bpfq_path(), &exe).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |args: &[&str]| {
        std::process::Command::new(AS_NOBODY[0])
            .args(&AS_NOBODY[1..])
            .arg(&exe)
            .args(args)
            .output()
            .expect("setpriv (util-linux)")
    };
    let out = as_nobody(&["from task select pid, comm"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("CAP_BPF") && err.contains("CAP_PERFMON"),
        "names the missing capabilities: {err}"
    );
    assert!(out.stdout.is_empty());
    let out = as_nobody(&["explain", "from task select pid where comm == \"x\""]);
    assert!(
        out.status.success(),
        "compile-only commands work unprivileged: {}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("== BPF"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Root with every capability dropped (setpriv clears the bounding, inheritable and ambient
/// sets, so exec leaves nothing effective): a run is refused with a message naming the missing
/// capabilities (exit 1) for both row transports, nothing reaches the kernel, and the
/// compile-only commands still work.
#[test]
fn root_without_capabilities_is_told_what_is_missing() {
    let _k = exclusive_kernel();
    let without_caps = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args([
                "--inh-caps=-all",
                "--ambient-caps=-all",
                "--bounding-set=-all",
                "--",
            ])
            .arg(bpfq_path())
            .args(args)
            .output()
            .expect("setpriv (util-linux)")
    };
    let baseline = bpf_objects();
    for query in ["from task select pid, comm", "from unix select inode"] {
        let out = without_caps(&[query]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{query}: {err}");
        assert!(
            err.contains("lacks CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"),
            "{query}: names the missing capabilities: {err}"
        );
        assert!(!err.contains("os error"), "{query}: a raw errno: {err}");
        assert!(out.stdout.is_empty());
    }
    // Looking up another program's map by id needs CAP_SYS_ADMIN (a compile-time lookup).
    let out = without_caps(&["from bpf_map_elem(map = 1) select key"]);
    assert!(
        stderr(&out).contains("lacks CAP_SYS_ADMIN"),
        "{}",
        stderr(&out)
    );
    assert_objects_return_to(baseline, "after unprivileged runs");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/btf/linux-6.12.btf.xz"
    );
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ps.bpfq");
    for args in [
        vec!["explain", "from task select pid where comm == \"x\""],
        vec!["check", "--btf", fixture, example],
        vec!["describe", "task"],
        vec!["targets"],
    ] {
        let out = without_caps(&args);
        assert!(
            out.status.success(),
            "{args:?} works without capabilities: {}",
            stderr(&out)
        );
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn user_stdlib_files_add_and_override_columns() {
    let _k = shared_kernel();
    let dir = std::env::temp_dir().join(format!("bpfq-userlib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mine.bpfq"), "--- Twice the thread id.\ncolumn task.double_tid = task.pid * 2;\ncolumn task.comm = task.pid;\n").unwrap();
    let me = std::process::id();
    let out = std::process::Command::new(bpfq_path())
        .args([
            &format!("from task select tid, double_tid, comm where tid == {me}"),
            "-o",
            "csv",
            "--no-header",
        ])
        .env("BPFQ_PATH", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("{me},{},{me}", me * 2),
        "user columns win over the embedded ones"
    );
    std::fs::write(dir.join("broken.bpfq"), "column task.x = ;\n").unwrap();
    let out = std::process::Command::new(bpfq_path())
        .args(["from task select tid"])
        .env("BPFQ_PATH", &dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("broken.bpfq"),
        "the error points into the user's file: {}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `bpfq check` compiles every example query against each kernel's BTF: all of them on Linux 6.18; on
/// older kernels a query fails only with a message naming what that kernel lacks (the target:
/// E0101, or a column's fields: E0107).
#[test]
fn examples_check_against_every_fixture_kernel() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut examples: Vec<String> = std::fs::read_dir(format!("{root}/examples"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".bpfq"))
        .collect();
    examples.sort();
    // A file of named queries gets one verdict per query (`query NAME =` lines).
    let verdicts: usize = examples
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            text.lines()
                .filter(|l| l.starts_with("query "))
                .count()
                .max(1)
        })
        .sum();
    for version in ["5.10", "6.1", "6.12", "6.18"] {
        let fixture = format!("{root}/tests/fixtures/btf/linux-{version}.btf.xz");
        // sk_storage.bpfq names its map with $map: its shape is given, no map is looked up.
        let mut args = vec![
            "check",
            "--btf",
            &fixture,
            "--param",
            "pid=1",
            "--param",
            "map=storage",
            "--map-shape",
            "sk_storage:4:8",
        ];
        args.extend(examples.iter().map(String::as_str));
        let out = bpfq(&args);
        let (text, err) = (stdout(&out), stderr(&out));
        assert_eq!(
            text.lines().count(),
            verdicts,
            "one verdict line per query:\n{text}"
        );
        if version == "6.18" {
            assert!(
                out.status.success(),
                "every example compiles on {version}:\n{text}{err}"
            );
            continue;
        }
        assert!(
            !err.contains("panicked") && !err.contains("error[E09"),
            "{err}"
        );
        for code in err.lines().filter_map(|l| l.strip_prefix("error[")) {
            assert!(
                code.starts_with("E0101]") || code.starts_with("E0107]"),
                "Linux {version}: {code}\n{err}"
            );
        }
        let failed = text.lines().filter(|l| l.starts_with("FAILED")).count();
        assert_eq!(
            failed,
            err.matches("error[E").count(),
            "one diagnostic per failed file"
        );
    }
}

#[test]
fn explain_names_the_row_transport_and_the_ring_map() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/btf/linux-6.18.btf.xz"
    );
    let out = bpfq(&["explain", "from unix select inode", "--btf", fixture]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("rows via:    ring buffer map"), "{text}");
    assert!(
        text.contains("maps: bpfq_rows (BPF_MAP_TYPE_RINGBUF"),
        "{text}"
    );
    assert!(text.contains("r1 = map[fd:-1]"), "{text}");
    assert!(text.contains("call bpf_ringbuf_output#130"), "{text}");
    let out = bpfq(&["explain", "from task select pid", "--btf", fixture]);
    let text = stdout(&out);
    assert!(text.contains("rows via:    seq_file"), "{text}");
    assert!(
        !text.contains("maps:") && !text.contains("ringbuf"),
        "{text}"
    );
}

/// For an older kernel, explain says first which variants the compiler chose and why; for the
/// newest, nothing (its listing is the one the stage snapshots hold).
#[test]
fn explain_says_which_variants_an_older_kernel_gets() {
    let fixture = |v: &str| {
        format!(
            "{}/tests/fixtures/btf/linux-{v}.btf.xz",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    let cpu = "kernel: no cpu v4 instructions (sign-extension by shifts, signed division by \
               unsigned division of magnitudes): no Linux 6.6 marker in BTF (BPF_LINK_TYPE_TCX)";
    let casts = "pointer casts: bpf_probe_read_kernel (no bpf_rdonly_cast kfunc: no Linux 6.2 \
                 marker in BTF (BPF_FUNC_cgrp_storage_get))";
    for version in ["5.10", "6.1"] {
        let out = bpfq(&[
            "explain",
            "from tcp select inode",
            "--btf",
            &fixture(version),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let expected = format!("== variants for this kernel\n{cpu}\n{casts}\n\n== plan\n");
        assert!(text.starts_with(&expected), "Linux {version}:\n{text}");
        assert!(text.contains("call bpf_probe_read_kernel#113"), "{text}");
    }
    let out = bpfq(&[
        "explain",
        "from tcp select inode",
        "--btf",
        &fixture("6.18"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("== plan\n"), "{text}");
    assert!(!text.contains("variants"), "{text}");
}
