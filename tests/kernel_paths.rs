//! Kernel tests of `d_path` (the `path` columns of task_file and task_vma): the paths of files a
//! spawned process holds open or maps, compared with the kernel's own independent views,
//! readlink(/proc/PID/fd/N) and the last field of /proc/PID/maps.

mod common;

use common::*;
use std::process::Stdio;

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
    let script = format!(
        "exec 3<'{}' 4<'{}' 5<'{}' 6<'{}' 7<>/dev/null; rm '{}'; exec \"$0\" \"$@\"",
        scratch.display(),
        root.display(),
        deleted.display(),
        deep.display(),
        deleted.display()
    );
    let named = Named::spawn_program(
        &["sh", "-c", &script],
        "/bin/sleep",
        &["300"],
        &unique_name("path"),
        Stdio::piped,
    );
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

#[test]
fn task_vma_paths_match_proc_maps() {
    let _k = shared_kernel();
    let named = Named::spawn(&unique_name("vpath"));
    let pid = named.pid();
    let query = format!("from task_vma(pid = {pid}) select start, inode, path");
    if refuses_vma_file_paths(&query) {
        return;
    }
    let (_, rows) = query_csv(&query, &[]);
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
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
        let (inode, path) = if inode == 0 {
            (String::new(), String::new())
        } else {
            (inode.to_string(), name.to_string())
        };
        expected.push(vec![start.to_string(), inode, path]);
    }
    assert!(
        expected.iter().any(|r| r[2].ends_with(&named.name)),
        "the program's own file is mapped: {maps}"
    );
    assert!(expected.iter().any(|r| r[2].is_empty()), "{maps}");
    assert_eq!(rows, expected, "bpfq vs /proc/{pid}/maps:\n{maps}");
}
