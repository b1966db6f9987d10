//! Kernel tests of the cgroup `path` column (`kernfs_path`): nested cgroups this test creates,
//! compared with the directories themselves (inode number = cgroup id, path relative to the
//! cgroup2 mount), and NULL — never a cut path — for a name longer than its slot.

use crate::common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The cgroup2 mount point, from /proc/mounts (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
/// hybrid systems).
fn cgroup2_mount() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("cgroup2"))
        .expect("a cgroup2 mount");
    PathBuf::from(line.split_whitespace().nth(1).unwrap())
}

/// Directories made by the test, removed deepest first when it ends (even on failure).
struct Cgroups(Vec<PathBuf>);

impl Drop for Cgroups {
    fn drop(&mut self) {
        for dir in self.0.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn id_of(dir: &Path) -> String {
    std::fs::metadata(dir).unwrap().ino().to_string()
}

#[test]
fn cgroup_paths_match_the_directories_and_a_too_long_name_is_null() {
    let _k = shared_kernel();
    let mount = cgroup2_mount();
    let top = mount.join(format!("bq_cgpath_{}", std::process::id()));
    let a = top.join("a");
    let b = a.join("b");
    let c = b.join("c");
    // 38 bytes fit a 40-byte slot with the NUL and the length test; 39 might be a cut name.
    let fits = top.join("n".repeat(38));
    let too_long = top.join("m".repeat(39));
    let mut made = Cgroups(Vec::new());
    for dir in [&top, &a, &b, &c, &fits, &too_long] {
        std::fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        made.0.push(dir.clone());
    }
    let query = format!(
        "from cgroup(path = {:?}, order = descendants_pre) select id, path, level",
        top.to_str().unwrap()
    );
    let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
    assert!(out.status.success(), "{query}: {}", stderr(&out));
    let mut ours: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    ours.sort();
    let mut expected: Vec<String> = [&top, &a, &b, &c, &fits]
        .iter()
        .map(|dir| {
            let relative = dir.strip_prefix(&mount).unwrap();
            format!(
                "{},/{},{}",
                id_of(dir),
                relative.display(),
                relative.components().count()
            )
        })
        .collect();
    // The cut name: NULL (empty in CSV), at its real level.
    expected.push(format!("{},,2", id_of(&too_long)));
    expected.sort();
    assert_eq!(ours, expected);

    // The root of the hierarchy is `/`.
    let root = bpfq(&[
        &format!(
            "from cgroup(id = {}, order = self_only) select path",
            id_of(&mount)
        ),
        "-o",
        "csv",
        "--no-header",
    ]);
    assert!(root.status.success(), "{}", stderr(&root));
    assert_eq!(stdout(&root).trim(), "/");
}

/// The cgroup2 path of `pid` as /proc/PID/cgroup's `0::` line shows it.
fn proc_cgroup(pid: u32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup2 line")
        .to_string()
}

/// A sleeper moved into a cgroup the test makes: killed, then its directories removed, on drop.
struct Inside {
    sleeper: Named,
    dirs: Cgroups,
}

impl Inside {
    fn spawn(mount: &Path, path: &str) -> Inside {
        let mut dirs = Cgroups(Vec::new());
        let mut dir = mount.to_path_buf();
        for name in path.split('/').filter(|n| !n.is_empty()) {
            dir.push(name);
            std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            dirs.0.push(dir.clone());
        }
        let sleeper = Named::spawn(&unique_name("cg"));
        std::fs::write(dir.join("cgroup.procs"), sleeper.pid().to_string())
            .expect("move into the cgroup");
        Inside { sleeper, dirs }
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        let _ = self.sleeper.child.kill();
        let _ = self.sleeper.child.wait();
        // A killed task leaves its cgroup shortly after it is reaped.
        let leaf = self.dirs.0.last().cloned();
        for _ in 0..100 {
            if leaf.as_ref().is_none_or(|l| std::fs::remove_dir(l).is_ok()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[test]
fn task_cgroup_and_container_follow_the_runtimes_cgroup_names() {
    let _k = shared_kernel();
    let mount = cgroup2_mount();
    let id = format!("{:064x}", 0xb0f0_u64 << 32 | u64::from(std::process::id()));
    let short = &id[..12];
    let top = format!("bq_tc_{}", std::process::id());
    // (path under the test's own directory, container, whether `cgroup` can show the path)
    let cases = [
        (
            format!("{top}.slice/docker-{id}.scope"),
            short.to_string(),
            false,
        ),
        (
            format!("{top}.slice/libpod-{id}.scope/container"),
            short.to_string(),
            false,
        ),
        (
            format!("{top}.slice/cri-containerd-{id}.scope"),
            short.to_string(),
            false,
        ),
        (
            format!("{top}.slice/bq-unit.service"),
            "bq-unit.service".to_string(),
            true,
        ),
    ];
    for (path, container, shown) in cases {
        let inside = Inside::spawn(&mount, &path);
        let pid = inside.sleeper.pid();
        assert_eq!(proc_cgroup(pid), format!("/{path}"), "moved in");
        let query = format!("from task select cgroup, container, cgroup_id where pid == {pid}");
        let (_, rows) = query_csv(&query, &[]);
        let leaf = inside.dirs.0.last().unwrap();
        let cgroup = if shown {
            format!("/{path}")
        } else {
            String::new()
        };
        assert_eq!(rows, [[cgroup, container, id_of(leaf)]], "{path}");
    }
}
