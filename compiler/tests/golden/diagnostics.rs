//! Every binder and backend diagnostic, rendered against the 6.18 BTF fixture: each case must be
//! an error with the expected code, and the rendered text is snapshotted for review.

use bpfq_compiler::bind::Params;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::{Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;

fn fixture() -> &'static Btf {
    crate::common::fixture("6.18")
}

/// A user stdlib file with a column whose fields exist in no kernel.
const USER_LIB: &str =
    "--- Exists nowhere.\ncolumn task.bogus = task.no_such_field ?? task.nor_this;\n";

/// Compiles `query` with the stdlib files of `target` (`None`: all of them) and the user files
/// `extra`, and `$name = bash`; returns (code, rendered diagnostic) or panics if it compiled.
fn compile_error(
    btf: &Btf,
    query: &str,
    target: Option<&str>,
    extra: &[(String, String)],
) -> (String, String) {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load_for(&mut sources, target, extra).expect("stdlib");
    let params = Params::from_iter([("name".to_string(), "bash".to_string())]);
    let features = bpfq_kernel::KernelFeatures::from_btf(btf).expect("features of the BTF");
    let env = Compiler::new(btf, &features, &stdlib, &sources).with_params(&params);
    match env.compile(Input::File(file), Options::default()) {
        Ok(_) => panic!("expected an error for {query}"),
        Err(diag) => (diag.code.to_string(), diag.render(&sources)),
    }
}

/// Compiles `query` against every stdlib file and `USER_LIB`.
fn check_diag(btf: &Btf, query: &str) -> (String, String) {
    let user = ("user/extra.bpfq".to_string(), USER_LIB.to_string());
    compile_error(btf, query, None, &[user])
}

const CASES: &[(&str, &str)] = &[
    ("E0101", "from tsk select pid"),
    ("E0102", "from task select pdi"),
    ("E0103", "from task select task.real_parent.tgidd"),
    ("E0104", "from task select task.pid.x"),
    ("E0105", "from task select task.sched_class.enqueue_task.x"),
    ("E0106", "from task select task.cpus_mask.bits[9]"),
    ("E0106", "from task select task.pid[0]"),
    ("E0107", "from task select bogus"),
    ("E0108", "from task select pid where pid == $missing"),
    ("E0115", "from sockmap select *"),
    ("E0115", "from bpf_map_elem select map_id"),
    ("E0116", "from bpf_map_elem(map = \"counts\") select key"),
    ("E0201", "from task select pid where comm == 5"),
    (
        "E0201",
        "from task select pid where comm == $name and pid == \"x\"",
    ),
    ("E0202", "from task select task.se"),
    ("E0202", "from task select task.mm.saved_auxv"),
    (
        "E0203",
        "from task select pid where comm == \"a-name-longer-than-sixteen\"",
    ),
    ("E0204", "from task select pid where pid"),
    ("E0204", "from task select pid where pid == 1 and tgid"),
    ("E0205", "from task select comm + 1"),
    ("E0206", "from task select pid / 0"),
    ("E0201", "from task select pid where pid like \"1%\""),
    ("E0201", "from task select pid where comm like 5"),
    ("E0201", "from task_vma select start where perms == \"rwz\""),
    ("E0201", "from task_vma select start where perms < \"r-xp\""),
    ("E0207", "from task select cast(pid as tcp_sock)"),
    ("E0207", "from task select cast(pid as float)"),
    ("E0201", "from task_file select d_path(file)"),
    ("E0201", "from task select d_path(task.thread)"),
    (
        "E0201",
        "from task_vma select d_path(vma.vm_file.f_path, 1)",
    ),
    ("E0201", "from cgroup select kernfs_path(cgroup)"),
    ("E0201", "from cgroup select kernfs_path(cgroup.kn, 8)"),
    ("E0290", "from task_file select fd where path == \"/x\""),
    (
        "E0207",
        "from task select cast(task as struct no_such_struct)",
    ),
    ("E0220", "from task select pid where count(*) > 1"),
    ("E0220", "from task select sum(count(*))"),
    ("E0220", "from task select count(*) group by sum(pid)"),
    ("E0221", "from task select comm, count(*) group by pid"),
    (
        "E0221",
        "from task select tgid, count(*) group by tgid having nice > 0",
    ),
    ("E0221", "from task select * group by pid"),
    ("E0222", "from task select sum(comm)"),
    ("E0222", "from task select avg(task.mm)"),
    ("E0222", "from task select count(pid, tid)"),
    // ksym's address in an integer is a pointer: no sums or arithmetic of it.
    ("E0222", "from ksym select sum(value)"),
    ("E0205", "from ksym select ksym.value + 0"),
    ("E0223", "from task select pid having pid > 1"),
    (
        "E0204",
        "from task select tgid group by tgid having count(*)",
    ),
    (
        "E0224",
        "from task_file join tcp on task_file.inode > tcp.inode select fd",
    ),
    (
        "E0224",
        "from task_file join tcp on task_file.inode == 3 select fd",
    ),
    (
        "E0225",
        "from task_file join tcp on task_file.inode == tcp.inode select inode",
    ),
    (
        "E0225",
        "from task_file join tcp on task_file.inode == tcp.inode select task_file.fd + tcp.sport",
    ),
    (
        "E0225",
        "from tcp join tcp on tcp.inode == tcp.inode select sport",
    ),
    (
        "E0201",
        "from task_file join tcp on task_file.comm == tcp.inode select fd",
    ),
    (
        "E0224",
        "from task_file as f join tcp on f.inode == tcp.inode join task as t on f.pid == tcp.uid select t.comm",
    ),
    (
        "E0225",
        "from task_file as f join tcp on f.inode == tcp.inode join task as f on f.pid == tcp.uid select fd",
    ),
    (
        "E0225",
        "from task_file as f join tcp on f.inode == tcp.inode join task as t on t.pid == f.pid select t.pid + f.fd + sport",
    ),
    (
        "E0290",
        "from task_file join tcp on task_file.inode == tcp.inode select *",
    ),
    (
        "E0290",
        "from task_file join tcp on task_file.inode == tcp.inode select count(*)",
    ),
    (
        "E0225",
        "from task_file join tcp on task_file.inode == tcp.inode select fd where fd + sport > 3",
    ),
    ("E0226", "from tcp select sport where state == \"TCP_LISTENING\""),
    ("E0226", "from tcp select sport where \"LISTENING\" != state"),
    ("E0226", "from tcp select sport where state in (\"LISTEN\", \"CLOSED\")"),
    ("E0226", "from tcp select sport where state == \"tcp_listen\""),
    ("E0226", "from tcp select sport where state == \"xyzzy\""),
    (
        "E0226",
        "from tcp select state, count(*) group by state having state == \"LISTN\"",
    ),
    ("E0250", "from task select pid where state_letter == \"s\""),
    ("E0250", "from task select pid where tty > \"pts/1\""),
    ("E0250", "from task select pid where \"pts3\" == tty"),
    ("E0290", "from ksym(pid = 1) select ksym"),
    ("E0290", "from task select cast(count(*) as u8)"),
    ("E0110", "from task(pdi = 3) select pid"),
    ("E0110", "from task(pid = 1, tid = 2) select pid"),
    ("E0110", "from task_file(pid = comm) select fd"),
    ("E0110", "from task_vma(pid = -3) select task"),
    ("E0110", "from task(pid = 0) select pid"),
    ("E0110", "from cgroup(order = upward) select id"),
    ("E0110", "from cgroup(path = 3) select id"),
    ("E0110", "from cgroup(root = 1) select id"),
    ("E0110", "from tcp(nets = 1) select sport"),
    ("E0110", "from udp(netns = -1) select sport"),
];

/// Queries too long to write out: a row over 32 KiB, and an expression with more live values
/// than the stack can hold.
fn generated_cases() -> Vec<(&'static str, String)> {
    let wide: Vec<String> = (0..2100).map(|i| format!("comm as c{i}")).collect();
    // A full 384-byte row segment plus ~30 values live at once: more than the 512-byte stack.
    let segment: Vec<String> = (0..24).map(|i| format!("comm as s{i}")).collect();
    let deep = (1..=32)
        .map(|k| format!("pid * {k}"))
        .collect::<Vec<_>>()
        .join(" + (")
        + &")".repeat(31);
    vec![
        ("E0302", format!("from task select {}", wide.join(", "))),
        (
            "E0301",
            format!("from task select {}, {deep}", segment.join(", ")),
        ),
    ]
}

#[test]
fn generated_queries_hit_the_backend_limits() {
    let btf = fixture();
    for (code, query) in generated_cases() {
        let (got, text) = check_diag(btf, &query);
        assert_eq!(got, code, "{text}");
        let message = text.lines().next().unwrap_or_default().to_string();
        insta::assert_snapshot!(code, message);
    }
}

#[test]
fn every_diagnostic_has_its_code_and_reads_well() {
    let btf = fixture();
    let mut rendered = String::new();
    for (code, query) in CASES {
        let (got, text) = check_diag(btf, query);
        assert_eq!(&got, code, "{query}\n{text}");
        assert!(text.contains(&format!("error[{code}]")), "{text}");
        rendered.push_str(&format!("### {query}\n{text}\n"));
    }
    insta::assert_snapshot!(rendered);
}

#[test]
fn every_code_is_documented() {
    for code in CASES
        .iter()
        .map(|c| c.0)
        .chain(generated_cases().iter().map(|c| c.0))
    {
        assert!(
            bpfq_compiler::codes::explain(code).is_some(),
            "{code} has no explanation in codes::ALL"
        );
    }
}

/// Every target of this kernel has stdlib defaults, so E0109 is met with a stdlib that holds
/// another target's file only (as `Stdlib::load_for` loads it), like a kernel's new target.
#[test]
fn select_star_without_defaults_is_e0109() {
    let (code, rendered) = compile_error(fixture(), "from dmabuf select *", Some("task"), &[]);
    assert_eq!(code, "E0109");
    insta::assert_snapshot!(rendered);
}

/// A `defaults` line (of a user or query file) naming a column nobody defined is the user's
/// error, pointed at in that line — it used to be an internal error (E0902).
#[test]
fn defaults_naming_an_undefined_column_is_e0102() {
    let user = (
        "user/defaults.bpfq".to_string(),
        "defaults task: pid, nosuch;\n".to_string(),
    );
    let (code, rendered) = compile_error(fixture(), "from task select *", Some("task"), &[user]);
    assert_eq!(code, "E0102");
    insta::assert_snapshot!(rendered);
}
