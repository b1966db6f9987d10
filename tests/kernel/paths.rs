//! Kernel tests of `d_path` (the `path` columns of task_file and task_vma): the paths of files a
//! spawned process holds open or maps, compared with the kernel's own independent views,
//! readlink(/proc/PID/fd/N) and the last field of /proc/PID/maps; with `bpf_d_path` and with
//! the dentry walk that replaces it where the kernel refuses the helper (task_vma here, whose
//! `vm_file` this kernel does not trust; task_file with the walk forced as on Linux 5.10).

use crate::common;

use bpfq_compiler::bind::{D_PATH_WALK_LEVELS, D_PATH_WALK_SLOT};
use bpfq_compiler::pipeline::Compiled;
use bpfq_kernel::{KernelFeatures, Why};
use bpfq_runtime::{decode_row, Value};
use common::with_features::{compile_with, run_rows, vmlinux};
use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A directory whose path is longer than a `d_path` column (255 bytes), with a file in it.
fn deep_file(root: &std::path::Path) -> std::path::PathBuf {
    let mut dir = root.to_path_buf();
    while dir.as_os_str().len() <= 300 {
        dir = dir.join("a_directory_name_of_forty_bytes_or_so__");
    }
    std::fs::create_dir_all(&dir).expect("deep dir");
    let file = dir.join("f");
    std::fs::write(&file, "x").expect("deep file");
    file
}

#[test]
fn task_file_paths_match_readlink() {
    let _k = shared_kernel();
    let root = std::env::temp_dir().join(format!("bpfq-paths-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("root");
    let scratch = root.join("scratch file.txt");
    std::fs::write(&scratch, "x").expect("scratch");
    let deleted = root.join("deleted");
    std::fs::write(&deleted, "x").expect("deleted");
    let deep = deep_file(&root);
    // 3: a regular file, 4: a directory, 5: a file deleted once opened, 6: a path over 255
    // bytes, 7: a character device; 0 is a pipe (stdin is piped). Pipes and sockets have no
    // path: d_path gives the kernel's pseudo name (`pipe:[INODE]`, `socket:[INODE]`), which is
    // what readlink shows too.
    let redirects = [
        format!("3<'{}'", scratch.display()),
        format!("4<'{}'", root.display()),
        format!("5<'{}'", deleted.display()),
        format!("6<'{}'", deep.display()),
        "7<>/dev/null".to_string(),
    ];
    let named = sleeper_holding(&redirects, &deleted, "path");
    let pid = named.pid();
    let (_, rows) = query_csv(
        &format!("from task_file(pid = {pid}) select fd, path order by fd"),
        &[],
    );
    let mut expected = Vec::new();
    let mut fds: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    fds.sort();
    for fd in fds {
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("readlink");
        let link = link.to_str().expect("utf-8 path").to_string();
        // The one path longer than the column: the helper fails with ENAMETOOLONG, NULL.
        let want = if link.len() > 255 {
            String::new()
        } else {
            link
        };
        expected.push(vec![fd.to_string(), want]);
    }
    let _ = std::fs::remove_dir_all(&root);
    let path_of = |fd: &str| rows.iter().find(|r| r[0] == fd).map(|r| r[1].clone());
    assert_eq!(path_of("3"), Some(scratch.display().to_string()));
    assert_eq!(path_of("4"), Some(root.display().to_string()));
    assert_eq!(
        path_of("5"),
        Some(format!("{} (deleted)", deleted.display()))
    );
    assert_eq!(path_of("6"), Some(String::new()), "too long: NULL");
    assert!(
        path_of("0").is_some_and(|p| p.starts_with("pipe:[")),
        "{rows:?}"
    );
    assert_eq!(path_of("7").as_deref(), Some("/dev/null"));
    assert_eq!(rows, expected, "bpfq paths vs readlink /proc/{pid}/fd/*");
}

/// The text a dentry walk gives for the kernel's path `text`: the same, except that a path
/// deeper than the walk's levels keeps its last names after `…/`, and a name that fills its
/// slot (it may have been cut) makes it NULL (""). Of pseudo files, the names of pipes,
/// sockets and anon inodes are the kernel's, the others (`net:[…]`...) NULL.
fn walked(text: &str) -> String {
    let Some(path) = text.strip_prefix('/') else {
        let named = ["pipe:[", "socket:[", "anon_inode:"];
        return match named.iter().any(|p| text.starts_with(p)) {
            true => text.to_string(),
            false => String::new(),
        };
    };
    let (path, deleted) = match path.strip_suffix(" (deleted)") {
        Some(path) => (path, " (deleted)"),
        None => (path, ""),
    };
    let names: Vec<&str> = path.split('/').collect();
    if names
        .iter()
        .any(|n| n.len() + 1 >= D_PATH_WALK_SLOT as usize)
    {
        return String::new();
    }
    let levels = D_PATH_WALK_LEVELS as usize;
    if names.len() > levels {
        format!("…/{}{deleted}", names[names.len() - levels..].join("/"))
    } else {
        text.to_string()
    }
}

/// A private mount namespace (`unshare -m`) with a tmpfs mounted on `mnt`, running a copy of
/// sleep from `mnt/bin/NAME` with two libraries preloaded (so mapped): `mnt`'s
/// `l1/../l9/libdeep.so` (deeper than the walk's levels) and `shm` (a copy on /dev/shm, whose
/// two stacked tmpfs mounts the walk crosses). Returns the child and the sleep copy's path.
fn sleep_on_private_tmpfs(mnt: &Path, shm: &Path, name: &str) -> (KillOnDrop, PathBuf) {
    let deep = mnt.join("l1/l2/l3/l4/l5/l6/l7/l8/l9");
    let exe = mnt.join("bin").join(name);
    let libm = "/usr/lib/x86_64-linux-gnu/libm.so.6";
    std::fs::copy(libm, shm).expect("copy libm to /dev/shm");
    let script = format!(
        "mount -t tmpfs bpfqpaths '{mnt}' && mkdir -p '{deep}' '{mnt}/bin' && \
         cp /bin/sleep '{exe}' && cp {libm} '{deep}/libdeep.so' && \
         LD_PRELOAD='{deep}/libdeep.so {shm}' exec '{exe}' 300",
        mnt = mnt.display(),
        deep = deep.display(),
        exe = exe.display(),
        shm = shm.display(),
    );
    let child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .expect("unshare (util-linux)");
    let child = KillOnDrop(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let want = exe.display().to_string();
    while !std::fs::read_to_string(format!("/proc/{}/maps", child.pid()))
        .is_ok_and(|maps| maps.contains(&want) && maps.contains("libdeep.so"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sleep copy never ran from {want}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, exe)
}

/// Every mapping of a process bpfq lists with the path /proc/PID/maps shows (through the
/// dentry walk where this kernel refuses bpf_d_path): its own executable on a tmpfs mounted
/// in a private mount namespace, a library in a directory deeper than the walk's levels
/// there, a library on /dev/shm (two tmpfs mounts stacked on /dev/shm here) deleted once
/// mapped, and the system's libc; anonymous memory is NULL.
#[test]
fn task_vma_paths_match_proc_maps() {
    let _k = shared_kernel();
    let walk = vma_paths_walk();
    let root = std::env::temp_dir().join(format!("bpfq-vpaths-{}", std::process::id()));
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mountpoint");
    let shm = PathBuf::from(format!("/dev/shm/bpfq-vpaths-{}.so", std::process::id()));
    let (child, exe) = sleep_on_private_tmpfs(&mnt, &shm, &unique_name("vpath"));
    std::fs::remove_file(&shm).expect("delete the /dev/shm copy");
    let pid = child.pid();
    let query = format!("from task_vma(pid = {pid}) select start, inode, path");
    let (_, rows) = query_csv(&query, &[]);
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    drop(child);
    let _ = std::fs::remove_dir_all(&root);
    let mut expected = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.splitn(6, ' ').collect();
        let name = fields.get(5).map_or("", |n| n.trim_start());
        // The vsyscall page is outside the process's VMA tree: no iterator row.
        if name == "[vsyscall]" {
            continue;
        }
        let start = u64::from_str_radix(fields[0].split_once('-').unwrap().0, 16).unwrap();
        let inode: u64 = fields[4].parse().unwrap();
        // /proc names anonymous mappings ([heap], [stack], [vdso]...); they have no file: NULL.
        let (inode, path) = match (inode, walk) {
            (0, _) => (String::new(), String::new()),
            (_, true) => (inode.to_string(), walked(name)),
            (_, false) => (inode.to_string(), name.to_string()),
        };
        expected.push(vec![start.to_string(), inode, path]);
    }
    let paths: Vec<&str> = expected.iter().map(|r| r[2].as_str()).collect();
    let exe = exe.display().to_string();
    assert!(paths.contains(&exe.as_str()), "{maps}");
    let deleted = format!("{} (deleted)", shm.display());
    assert!(paths.contains(&deleted.as_str()), "{maps}");
    if walk {
        let cut = "…/l3/l4/l5/l6/l7/l8/l9/libdeep.so";
        assert!(paths.contains(&cut), "{maps}");
    }
    assert!(paths.iter().any(|p| p.ends_with("/libc.so.6")), "{maps}");
    assert!(paths.contains(&""), "{maps}");
    assert_eq!(rows, expected, "bpfq vs /proc/{pid}/maps:\n{maps}");
}

/// Loads and runs `compiled` (the verifier must accept it): its rows, decoded.
fn run_decoded(compiled: &Compiled) -> Vec<Vec<Value>> {
    run_rows(compiled, "dentry walk")
        .iter()
        .map(|row| decode_row(&compiled.plan.layout, row))
        .collect()
}

/// task_file paths built by the dentry walk (`bpf_d_path` turned off by hand, as Linux 5.10
/// has it) equal readlink(/proc/PID/fd/N) for a file, a directory, a deleted file, /dev/null
/// (devtmpfs), a file of /proc, a file on /dev/shm (two stacked tmpfs mounts), a pipe
/// (`pipe:[N]`); a path deeper than the walk's levels keeps its last names after `…/`; a
/// name that fills a slot is NULL. Then this process's own socket (`socket:[N]`).
#[test]
fn task_file_paths_by_dentry_walk_match_readlink() {
    let _k = shared_kernel();
    let mut features = KernelFeatures::from_btf(vmlinux()).expect("features");
    features.d_path_in_iter = false;
    features.why.d_path_in_iter = Why::Given("kernel_paths");
    let root = std::env::temp_dir().join(format!("bpfq-wpaths-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("root");
    let scratch = root.join("scratch file.txt");
    std::fs::write(&scratch, "x").expect("scratch");
    let deleted = root.join("deleted");
    std::fs::write(&deleted, "x").expect("deleted");
    let deep = deep_file(&root);
    let long = root.join("n".repeat(D_PATH_WALK_SLOT as usize));
    std::fs::write(&long, "x").expect("long name");
    let shm = PathBuf::from(format!("/dev/shm/bpfq-wpaths-{}", std::process::id()));
    std::fs::write(&shm, "x").expect("shm file");
    let redirects = [
        format!("3<'{}'", scratch.display()),
        format!("4<'{}'", root.display()),
        format!("5<'{}'", deleted.display()),
        format!("6<'{}'", deep.display()),
        "7</proc/self/status".to_string(),
        format!("8<'{}'", shm.display()),
        format!("9<'{}'", long.display()),
    ];
    let named = sleeper_holding(&redirects, &deleted, "wpath");
    let pid = named.pid();
    let compiled = compile_with(
        &format!("from task_file(pid = {pid}) select fd, path"),
        &features,
    );
    let walk_column = compiled
        .plan
        .layout
        .columns
        .iter()
        .any(|c| matches!(c.kind, bpfq_compiler::layout::ColumnKind::DentryPath { .. }));
    assert!(walk_column, "d_path_in_iter = false must give the walk");
    let mut rows: Vec<(u64, String)> = run_decoded(&compiled)
        .into_iter()
        .map(|row| {
            let fd = match row[0] {
                Value::Int(fd) => fd as u64,
                Value::UInt(fd) => fd,
                ref other => panic!("fd {other:?}"),
            };
            let path = match &row[1] {
                Value::Text(path) => path.clone(),
                Value::Null => String::new(),
                other => panic!("path {other:?}"),
            };
            (fd, path)
        })
        .collect();
    rows.sort();
    let mut expected = Vec::new();
    let mut links = HashMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir") {
        let fd: u64 = entry
            .unwrap()
            .file_name()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("readlink");
        let link = link.to_str().expect("utf-8 path").to_string();
        expected.push((fd, walked(&link)));
        links.insert(fd, link);
    }
    expected.sort();
    drop(named);
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_file(&shm);
    let path_of = |fd: u64| rows.iter().find(|r| r.0 == fd).map(|r| r.1.clone());
    assert_eq!(path_of(3), Some(scratch.display().to_string()));
    assert_eq!(path_of(4), Some(root.display().to_string()));
    assert_eq!(path_of(5), Some(format!("{} (deleted)", deleted.display())));
    let cut = path_of(6).unwrap_or_default();
    assert!(
        cut.starts_with("…/a_directory") && cut.ends_with("/f"),
        "{cut}"
    );
    assert!(
        links[&6].ends_with(&cut["…".len()..]),
        "{cut} vs {}",
        links[&6]
    );
    assert_eq!(path_of(1).as_deref(), Some("/dev/null"), "stdout");
    assert_eq!(path_of(7), Some(format!("/proc/{pid}/status")));
    assert_eq!(path_of(8), Some(shm.display().to_string()));
    assert_eq!(
        path_of(9),
        Some(String::new()),
        "a name that fills its slot"
    );
    assert!(links[&0].starts_with("pipe:["), "{links:?}");
    assert_eq!(path_of(0).as_ref(), Some(&links[&0]), "a pipe");
    assert_eq!(rows, expected, "walked paths vs readlink /proc/{pid}/fd/*");

    // A socket of this process (other fds of the test process come and go: only this one).
    let (socket, _peer) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
    let me = std::process::id();
    let compiled = compile_with(
        &format!("from task_file(pid = {me}) select fd, path where fd == {fd}"),
        &features,
    );
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).expect("readlink");
    let link = link.to_str().expect("utf-8").to_string();
    assert!(link.starts_with("socket:["), "{link}");
    let rows = run_decoded(&compiled);
    let paths: Vec<&Value> = rows.iter().map(|row| &row[1]).collect();
    assert_eq!(paths, [&Value::Text(link)], "the socket's name");
}

/// The hidden `--assume-kernel-lacks d_path_in_iter` plans task_file paths as Linux 5.10 would:
/// `explain` names the dentry walk and who asked for it, and the walk's rows for a file this
/// process holds open equal readlink. A name that is no feature is a usage error listing them.
#[test]
fn assume_kernel_lacks_d_path_gives_the_dentry_walk_from_the_cli() {
    let _k = shared_kernel();
    let file = std::env::temp_dir().join(format!("bpfq-lacks-{}", std::process::id()));
    std::fs::write(&file, "x").expect("file");
    let held = std::fs::File::open(&file).expect("open");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&held);
    let query = format!(
        "from task_file(pid = {}) select path where fd == {fd}",
        std::process::id()
    );
    let lacks = ["--assume-kernel-lacks", "d_path_in_iter"];
    let explained = bpfq_ok(&["explain", lacks[0], lacks[1], &query]);
    assert!(
        explained.contains("column path: d_path: dentry walk")
            && explained.contains("given: --assume-kernel-lacks"),
        "{explained}"
    );
    let (_, rows) = query_csv(&query, &lacks);
    let want = std::fs::read_link(format!("/proc/self/fd/{fd}")).expect("readlink");
    assert_eq!(rows, [[want.display().to_string()]]);
    drop(held);
    std::fs::remove_file(&file).expect("remove");

    let out = bpfq(&["--assume-kernel-lacks", "d_path", "from task select pid"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).lines().next(),
        Some(
            "bpfq: --assume-kernel-lacks: no feature 'd_path' (features: cpu_v4, rdonly_cast, \
             d_path_in_iter, task_iter_params, ringbuf, probe_read_kernel, memlock_charged, \
             map_elem_programs, vma_file_path_trusted)"
        )
    );
}

/// A `sleep` (stdin piped) holding the files of `redirects` (`3<'PATH'`...) open, with `removed`
/// deleted once opened.
fn sleeper_holding(redirects: &[String], removed: &Path, tag: &str) -> Named {
    let script = format!(
        "exec {}; rm '{}'; exec \"$0\" \"$@\"",
        redirects.join(" "),
        removed.display()
    );
    Named::spawn_program(
        &["sh", "-c", &script],
        "/bin/sleep",
        &["300"],
        &unique_name(tag),
        Stdio::piped,
    )
}
