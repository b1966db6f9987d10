//! Kernel tests of what bpfq, run as root, refuses to trust (`runtime/src/trust.rs`): a pin in a
//! directory another user can change — an unprivileged user (`nobody`, through setpriv) racing
//! root with a symlink swap never gets root's `bpfq pin --mode 0644` to chmod its victim —, a
//! mode beyond 0777, a symbolic link at a pin path, the unpinning of a link bpfq did not create,
//! and a hostile `$BPFQ_PATH` (another user's definitions, another user's link to a secret): each
//! a coded refusal that leaves the victim, the pin and root's query untouched, quoting no secret.

use crate::common;

use common::raw_programs::smallest_task_program;
use common::*;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// setpriv as `nobody`, without root's groups: the unprivileged user of these tests.
const AS_NOBODY: &[&str] = &[
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];
const NOBODY: u32 = 65534;

/// A directory that is removed with everything under it when the test ends, whatever happened.
struct Tree(PathBuf);

impl Tree {
    /// A new directory `parent/bpfq_trust_TAG_PID` with `mode`.
    fn new(parent: &Path, tag: &str, mode: u32) -> Tree {
        let path = parent.join(format!("bpfq_trust_{tag}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create the test directory");
        set_mode(&path, mode);
        Tree(path)
    }

    /// The same, created by `nobody` (who may: the parent is a sticky 1777 directory).
    fn new_by_nobody(parent: &Path, tag: &str) -> Tree {
        let path = parent.join(format!("bpfq_trust_{tag}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        as_nobody(&["mkdir", path.to_str().unwrap()]);
        Tree(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.0).is_err() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("lstat").mode() & 0o7777
}

/// Runs `command` as nobody, asserting it succeeds.
fn as_nobody(command: &[&str]) {
    let out = Command::new(AS_NOBODY[0])
        .args(&AS_NOBODY[1..])
        .args(command)
        .output()
        .expect("setpriv (util-linux)");
    assert!(
        out.status.success(),
        "{command:?} as nobody: {}",
        stderr(&out)
    );
}

/// A root-only file (0600 in a 0700 directory) holding `text`: the attacker's victim.
fn root_only_file(dir: &Tree, text: &str) -> PathBuf {
    let path = dir.join("victim");
    std::fs::write(&path, text).expect("write the victim");
    set_mode(&path, 0o600);
    path
}

/// `out`'s exit code and stderr, the test's own paths and pid replaced for a snapshot.
fn refusal(out: &Output, paths: &[(&Path, &str)]) -> String {
    let mut text = format!("exit {:?}\n{}", out.status.code(), stderr(out));
    for (path, name) in paths {
        text = text.replace(path.to_str().unwrap(), name);
    }
    text
}

#[test]
fn a_mode_beyond_the_permission_bits_is_refused_before_anything_is_pinned() {
    let _k = shared_kernel();
    let dir = Tree::new(bpffs_root(), "modes", 0o755);
    let pin = dir.join("pin");
    let mut texts = Vec::new();
    for mode in ["4777", "7777", "1644"] {
        let out = bpfq(&[
            "pin",
            "--mode",
            mode,
            "from task select pid",
            pin.to_str().unwrap(),
        ]);
        assert!(!pin.exists(), "--mode {mode} pinned something");
        texts.push(refusal(&out, &[(&pin, "PIN")]));
    }
    insta::assert_snapshot!(texts.join("\n"));
}

#[test]
fn a_pin_directory_another_user_can_change_is_refused() {
    let _k = shared_kernel();
    let theirs = Tree::new_by_nobody(bpffs_root(), "theirs");
    let open = Tree::new(bpffs_root(), "open", 0o777);
    let group = Tree::new(bpffs_root(), "group", 0o775);
    let mut texts = Vec::new();
    for dir in [&theirs, &open, &group] {
        let pin = dir.join("pin");
        let out = bpfq(&["pin", "from task select pid", pin.to_str().unwrap()]);
        assert!(!pin.exists(), "pinned into {}", dir.0.display());
        texts.push(refusal(&out, &[(&dir.0, "DIR")]));
    }
    insta::assert_snapshot!(texts.join("\n"));
    // Root's own directory, and the sticky bpffs root itself, are fine.
    let mine = Tree::new(bpffs_root(), "mine", 0o755);
    let inside = Tree(bpffs_root().join(format!("bpfq_trust_top_{}", std::process::id())));
    for pin in [mine.join("pin"), inside.0.clone()] {
        let pin = pin.to_str().unwrap();
        bpfq_ok(&["pin", "--mode", "0644", "from task select pid", pin]);
        assert_eq!(mode_of(Path::new(pin)), 0o644);
        bpfq_ok(&["unpin", pin]);
        assert!(!Path::new(pin).exists(), "unpinned");
    }
}

#[test]
fn a_symbolic_link_at_a_pin_path_is_never_followed() {
    let _k = shared_kernel();
    let private = Tree::new(&std::env::temp_dir(), "private", 0o700);
    let victim = root_only_file(&private, "victim\n");
    let dir = Tree::new(bpffs_root(), "links", 0o755);
    let to_victim = dir.join("to_victim");
    std::os::unix::fs::symlink(&victim, &to_victim).expect("symlink");
    let out = bpfq(&[
        "pin",
        "--mode",
        "0644",
        "from task select pid",
        to_victim.to_str().unwrap(),
    ]);
    assert_eq!(mode_of(&victim), 0o600, "the victim's mode changed");
    let mut texts = vec![refusal(&out, &[(&dir.0, "DIR")])];
    // unpin of a link to a real pin removes neither.
    let pin = dir.join("pin");
    bpfq_ok(&["pin", "from task select pid", pin.to_str().unwrap()]);
    let to_pin = dir.join("to_pin");
    std::os::unix::fs::symlink(&pin, &to_pin).expect("symlink");
    let out = bpfq(&["unpin", to_pin.to_str().unwrap()]);
    texts.push(refusal(&out, &[(&dir.0, "DIR")]));
    assert!(
        pin.exists() && to_pin.symlink_metadata().is_ok(),
        "unpin removed something"
    );
    bpfq_ok(&["unpin", pin.to_str().unwrap()]);
    insta::assert_snapshot!(texts.join("\n"));
}

#[test]
fn unpin_refuses_a_link_bpfq_did_not_create() {
    let _k = shared_kernel();
    let dir = Tree::new(bpffs_root(), "foreign", 0o755);
    let pin = dir.join("their_link");
    let program = smallest_task_program("other_tool").expect("load a raw iter/task program");
    let link = program.attach(None).expect("attach it");
    bpfq_runtime::sys::obj_pin(link.as_fd(), &pin).expect("pin its link");
    let link_id = bpfq_runtime::sys::link_info(link.as_fd())
        .expect("link info")
        .id;
    let prog_id = bpfq_runtime::sys::prog_info(program.as_fd())
        .expect("prog info")
        .id;
    drop((link, program));
    let out = bpfq(&["unpin", pin.to_str().unwrap()]);
    let pinned = bpfq_runtime::sys::obj_get(&pin).expect("still pinned");
    let still = bpfq_runtime::sys::link_info(pinned.as_fd()).expect("a link");
    assert_eq!(still.id, link_id, "the same link stays pinned");
    let text = refusal(&out, &[(&dir.0, "DIR")])
        .replace(&format!("(id {link_id})"), "(id LINK)")
        .replace(&format!("(id {prog_id})"), "(id PROG)");
    insta::assert_snapshot!(text);
}

#[test]
fn root_ignores_definitions_another_user_could_change() {
    let _k = shared_kernel();
    let marker = format!("MARKER_SECRET_{}", std::process::id());
    let private = Tree::new(&std::env::temp_dir(), "secret", 0o700);
    let secret = root_only_file(&private, &format!("root:{marker}:19000:0:99999:7:::\n"));
    // A world-writable search directory where nobody drops a definition and a link.
    let path = Tree::new(&std::env::temp_dir(), "path", 0o777);
    let evil = path.join("evil.bpfq");
    let link = path.join("secret.bpfq");
    as_nobody(&[
        "sh",
        "-c",
        &format!("echo 'column task.pid = 4242;' > {}", evil.display()),
    ]);
    as_nobody(&["ln", "-s", secret.to_str().unwrap(), link.to_str().unwrap()]);
    let me = std::process::id().to_string();
    let query = format!("from task select pid where tid == {me}");
    let run = || {
        Command::new(bpfq_path())
            .args(["-o", "csv", &query])
            .env("BPFQ_PATH", &path.0)
            .output()
            .expect("bpfq runs")
    };
    let mut texts = Vec::new();
    let step = |texts: &mut Vec<String>| {
        let out = run();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(&marker), "the secret was printed: {all}");
        assert!(!all.contains("4242"), "nobody's definition was used: {all}");
        assert_eq!(stdout(&out), "", "a refused run prints no rows");
        texts.push(refusal(&out, &[(&path.0, "BPFQ_PATH")]));
    };
    step(&mut texts); // the directory is writable by others
    set_mode(&path.0, 0o755);
    step(&mut texts); // nobody's file
    std::fs::remove_file(&evil).expect("rm");
    step(&mut texts); // nobody's link to the secret
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).expect("lchown");
    step(&mut texts); // root's own link to a file that is no query file
    insta::assert_snapshot!(texts.join("\n"));
    std::fs::remove_file(&link).expect("rm");
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("pid\n{me}\n"), "root's `select pid`");
}

#[test]
fn modules_and_files_that_are_not_query_text_are_refused_without_quoting() {
    let _k = shared_kernel();
    let marker = format!("MARKER_SECRET_{}", std::process::id());
    let private = Tree::new(&std::env::temp_dir(), "queries", 0o700);
    let secret = root_only_file(&private, &format!("root:{marker}:19000:0:99999:7:::\n"));
    // A trusted search directory holding a module directory that nobody owns.
    let path = Tree::new(&std::env::temp_dir(), "modpath", 0o755);
    let lib = path.join("lib");
    std::fs::create_dir(&lib).expect("mkdir lib");
    std::os::unix::fs::chown(&lib, Some(NOBODY), Some(NOBODY)).expect("chown lib");
    as_nobody(&[
        "sh",
        "-c",
        &format!("echo 'column task.pid = 4242;' > {}/m.bpfq", lib.display()),
    ]);
    let query_file = private.join("q.bpfq");
    let me = std::process::id();
    std::fs::write(
        &query_file,
        format!("use lib.m;\nfrom task select pid where tid == {me}\n"),
    )
    .expect("write q.bpfq");
    let run = |args: &[&str]| {
        Command::new(bpfq_path())
            .args(args)
            .env("BPFQ_PATH", &path.0)
            .output()
            .expect("bpfq runs")
    };
    let mut texts = Vec::new();
    let mut record = |out: Output| {
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(&marker), "the secret was printed: {all}");
        assert!(!all.contains("4242"), "nobody's definition was used: {all}");
        texts.push(refusal(
            &out,
            &[(&path.0, "BPFQ_PATH"), (&private.0, "PRIVATE")],
        ));
    };
    record(run(&["-f", query_file.to_str().unwrap()])); // nobody's module directory
    std::fs::remove_dir_all(&lib).expect("rm lib");
    // A query file named on the command line that is a secret, and a user file not UTF-8.
    record(run(&["-f", secret.to_str().unwrap()]));
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend_from_slice(marker.as_bytes());
    std::fs::write(path.join("binary.bpfq"), bytes).expect("write binary.bpfq");
    record(run(&["from task select pid"]));
    insta::assert_snapshot!(texts.join("\n"));
}

/// Run as nobody (C, so that it is fast enough to win the race against the unfixed bpfq, which it
/// did within a hundred rounds): whenever a regular file (root's new pin) appears at DIR/pin,
/// rename the symlink DIR/tmp -> VICTIM over it, so that a chmod of the path would land on the
/// victim; otherwise clear the name so the next pin can be made. Stops when its stdin closes.
const SWAPPER: &str = r#"
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char pin[4096], tmp[4096];
    if (argc != 3) return 2;
    snprintf(pin, sizeof pin, "%s/pin", argv[1]);
    snprintf(tmp, sizeof tmp, "%s/tmp", argv[1]);
    symlink(argv[2], tmp);
    printf("ready\n");
    fflush(stdout);
    for (unsigned long n = 0;; n++) {
        if ((n & 0xffff) == 0) {
            struct pollfd in = { .fd = 0, .events = POLLIN };
            if (poll(&in, 1, 0) != 0) return 0;
        }
        struct stat st;
        if (lstat(pin, &st) != 0) continue;
        if (S_ISREG(st.st_mode)) {
            rename(tmp, pin);
            symlink(argv[2], tmp);
        } else {
            unlink(pin);
        }
    }
}
"#;

/// The swapper, compiled with the C compiler Rust links with, where nobody may run it.
fn build_swapper(tools: &Tree) -> PathBuf {
    let source = tools.join("swapper.c");
    let binary = tools.join("swapper");
    std::fs::write(&source, SWAPPER).expect("write swapper.c");
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .args([&binary, &source])
        .status()
        .expect("cc");
    assert!(status.success(), "cc swapper.c");
    binary
}

#[test]
fn an_unprivileged_swap_loop_never_gets_roots_pin_to_chmod_its_victim() {
    let _k = shared_kernel();
    let private = Tree::new(&std::env::temp_dir(), "victim", 0o700);
    let victim = root_only_file(&private, "victim\n");
    let tools = Tree::new(&std::env::temp_dir(), "tools", 0o755);
    let swapper = build_swapper(&tools);
    let theirs = Tree::new_by_nobody(bpffs_root(), "race");
    assert_eq!(std::fs::metadata(&theirs.0).unwrap().uid(), NOBODY);
    let child = Command::new(AS_NOBODY[0])
        .args(&AS_NOBODY[1..])
        .arg(&swapper)
        .args([&theirs.0, &victim])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("setpriv");
    let mut swapper = KillOnDrop(child);
    assert_eq!(swapper.first_line(), "ready");
    let pin = theirs.join("pin");
    for round in 0..300 {
        let out = bpfq(&[
            "pin",
            "--mode",
            "0644",
            "from task select pid",
            pin.to_str().unwrap(),
        ]);
        assert_eq!(
            mode_of(&victim),
            0o600,
            "round {round}: root chmodded the victim"
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "round {round}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("error[E0310]"),
            "round {round}: {}",
            stderr(&out)
        );
    }
    drop(swapper);
}
