//! Test support for kernel tests: run the real `bpfq` binary, spawn processes with unique names,
//! and count the kernel's BPF programs and links with bpftool (an independent oracle).
#![allow(dead_code)]

pub mod bounded;
pub mod btf_mutations;
pub mod expr_gen;
pub mod netns;
pub mod proc_net;
pub mod prometheus;
pub mod raw_programs;
pub mod socket_maps;
pub mod with_features;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// Leak checks count kernel-wide objects: they take the write side so no other bpfq run from
/// this test binary is alive meanwhile; ordinary kernel tests take the read side.
static KERNEL: RwLock<()> = RwLock::new(());

pub fn shared_kernel() -> RwLockReadGuard<'static, ()> {
    KERNEL.read().unwrap_or_else(|e| e.into_inner())
}

pub fn exclusive_kernel() -> RwLockWriteGuard<'static, ()> {
    KERNEL.write().unwrap_or_else(|e| e.into_inner())
}

/// setpriv's arguments that run a command as `nobody` (uid and gid 65534) without root's groups:
/// the unprivileged user of the tests.
pub const AS_NOBODY: &[&str] = &[
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// /sys/fs/bpf, mounted first if it is not (tests pin objects there).
pub fn bpffs_root() -> &'static std::path::Path {
    let root = std::path::Path::new("/sys/fs/bpf");
    let mounted = std::fs::read_to_string("/proc/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split(' ').nth(1) == Some("/sys/fs/bpf"))
        })
        .unwrap_or(false);
    if !mounted {
        let status = Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .status()
            .expect("mount bpffs");
        assert!(status.success(), "mount -t bpf bpf /sys/fs/bpf");
    }
    root
}

pub fn bpfq_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bpfq"))
}

pub fn bpfq(args: &[&str]) -> Output {
    Command::new(bpfq_path())
        .args(args)
        .output()
        .expect("bpfq runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A process whose `comm` is `name` (at most 15 bytes): a copy of /bin/sleep under that name.
pub struct Named {
    pub child: Child,
    pub name: String,
    dir: PathBuf,
}

impl Named {
    pub fn spawn(name: &str) -> Named {
        assert!(name.len() <= 15, "comm holds 15 bytes");
        static INSTANCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let instance = INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bpfq-test-{}-{instance}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let exe = dir.join(name);
        std::fs::copy("/bin/sleep", &exe).expect("copy sleep");
        let child = spawn_fresh_copy(Command::new(&exe).arg("300").stdout(Stdio::null()));
        // Wait until the exec has happened so the kernel's comm is the new name.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{}/comm", child.id()))
            .map(|c| c.trim() != name)
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "child never became {name}");
            std::thread::sleep(Duration::from_millis(5));
        }
        Named {
            child,
            name: name.to_string(),
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A unique 15-byte-safe name for this test run.
pub fn unique_name(tag: &str) -> String {
    let mut name = format!("bq{}{}", tag, std::process::id() % 100_000);
    name.truncate(15);
    name
}

/// (programs named bpfq_*, iterator links, maps named bpfq_*) as bpftool lists them.
pub fn bpf_objects() -> (usize, usize, usize) {
    let listing = |what: &str| {
        let out = Command::new("bpftool")
            .args([what, "show"])
            .output()
            .unwrap_or_else(|e| panic!("bpftool {what} show (install bpftool): {e}"));
        assert!(
            out.status.success(),
            "bpftool {what} show failed: {}",
            stderr(&out)
        );
        stdout(&out)
    };
    let prog_count = listing("prog")
        .lines()
        .filter(|l| l.contains(" name bpfq_"))
        .count();
    let link_count = listing("link")
        .lines()
        .filter(|l| l.contains(": iter "))
        .count();
    let map_count = listing("map")
        .lines()
        .filter(|l| l.contains(" name bpfq_"))
        .count();
    (prog_count, link_count, map_count)
}

/// Waits (program release is RCU-deferred) until the counts are back to `baseline` or below:
/// objects another bpfq process held at the baseline may go away meanwhile, ours may not stay.
pub fn assert_objects_return_to(baseline: (usize, usize, usize), what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = bpf_objects();
        if now.0 <= baseline.0 && now.1 <= baseline.1 && now.2 <= baseline.2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: BPF objects leaked: before {baseline:?}, after {now:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parses `-o csv` output into rows of fields (no quoting needed for these columns).
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Waits until `/proc/PID/comm` reads `name`, i.e. the exec of the new program has happened.
pub fn wait_for_comm(pid: u32, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim() != name)
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "process {pid} never became {name}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether `child` takes the name `name` (execs the copy) before it exits.
fn became_comm(child: &mut Child, name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.id()));
        if comm.is_ok_and(|c| c.trim() == name) {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

impl Named {
    /// Like `spawn`, but runs the sleep copy under `wrapper` (e.g. `["nice", "-n", "5"]`), which
    /// must exec it; the process is the wrapper's, so its attributes (nice, uid...) carry over.
    pub fn spawn_via(wrapper: &[&str], name: &str) -> Named {
        Named::spawn_program(wrapper, "/bin/sleep", &["300"], name, Stdio::null)
    }

    /// A copy of `program` named `name`, run with `args` under `wrapper` (may be empty), with
    /// the given stdin (a piped stdin stays open in `child.stdin` until the drop).
    pub fn spawn_program(
        wrapper: &[&str],
        program: &str,
        args: &[&str],
        name: &str,
        stdin: fn() -> Stdio,
    ) -> Named {
        assert!(name.len() <= 15, "comm holds 15 bytes");
        static INSTANCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let instance = INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("bpfq-test-via-{}-{instance}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let exe = dir.join(name);
        std::fs::copy(program, &exe).expect("copy program");
        let command = || {
            let mut command = match wrapper.split_first() {
                Some((first, rest)) => {
                    let mut command = Command::new(first);
                    command.args(rest).arg(&exe);
                    command
                }
                None => Command::new(&exe),
            };
            command.args(args).stdout(Stdio::null());
            command
        };
        // A wrapper's own exec of the fresh copy can meet ETXTBSY too (another test thread's
        // fork may still hold the copy's write fd): such a wrapper exits at once; start it again.
        let deadline = Instant::now() + Duration::from_secs(5);
        let child = loop {
            let mut child = spawn_fresh_copy(command().stdin(stdin()));
            if wrapper.is_empty() || became_comm(&mut child, name) || Instant::now() > deadline {
                break child;
            }
            let _ = child.wait();
        };
        let named = Named {
            child,
            name: name.to_string(),
            dir,
        };
        wait_for_comm(named.pid(), name);
        named
    }
}

/// Any child process of a test: killed and reaped when the guard goes out of scope.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs bpfq with `args`, asserting success (the message carries bpfq's stderr), and returns
/// stdout.
pub fn bpfq_ok(args: &[&str]) -> String {
    let out = bpfq(args);
    assert!(
        out.status.success(),
        "bpfq {args:?} failed ({}):\n{}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
}

/// Runs a query with `-o csv` (plus `extra` arguments) and returns (header, rows).
pub fn query_csv(query: &str, extra: &[&str]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut args = vec![query, "-o", "csv"];
    args.extend_from_slice(extra);
    let text = bpfq_ok(&args);
    let header = text
        .lines()
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    (header, csv_rows(&text))
}

/// The first whitespace-separated value of `key:` in /proc/PID/status (e.g. `Uid` -> real uid).
pub fn proc_status_first(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let prefix = format!("{key}:");
    status
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("/proc/{pid}/status has no {key}"))
        .to_string()
}

/// Field `number` (1-based, as proc(5) numbers them) of /proc/PID/stat; the comm field (2) may
/// hold spaces, so fields after it are counted from its closing parenthesis.
pub fn proc_stat_field(pid: u32, number: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after_comm = &stat[stat.rfind(')').expect("comm in stat") + 1..];
    assert!(number >= 3, "fields 1 and 2 are pid and comm");
    after_comm
        .split_whitespace()
        .nth(number - 3)
        .unwrap_or_else(|| panic!("/proc/{pid}/stat has no field {number}"))
        .to_string()
}

/// Waits until /proc/PID/stat's state letter (field 3) is `letter` (e.g. "T" once stopped,
/// "Z" once a child has exited unreaped).
pub fn wait_for_state(pid: u32, letter: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while proc_stat_field(pid, 3) != letter {
        assert!(
            Instant::now() < deadline,
            "process {pid} never reached state {letter}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spawns a program the test has just copied. While the copy is being written, another test
/// thread may fork and hold the write fd until its exec: exec then fails with ETXTBSY, which
/// goes away as soon as that exec happens, so it is retried.
pub fn spawn_fresh_copy(command: &mut Command) -> Child {
    const ETXTBSY: i32 = 26;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match command.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("spawn {command:?}: {e}"),
        }
    }
}

/// A python3 child holding `pairs` unix socket pairs (raising its open-file limit as needed);
/// it prints their inode numbers and holds them until dropped.
pub struct UnixPairs {
    child: KillOnDrop,
    pub inodes: Vec<String>,
}

impl UnixPairs {
    pub fn spawn(pairs: usize) -> UnixPairs {
        UnixPairs::spawn_via(&[], pairs)
    }

    /// Like `spawn`, with python3 run by `wrapper` (e.g. `["ip", "netns", "exec", NAME]`),
    /// which must exec it.
    pub fn spawn_via(wrapper: &[&str], pairs: usize) -> UnixPairs {
        let script = format!(
            "import os,resource,socket,sys,time\n\
             need={need}\n\
             soft,hard=resource.getrlimit(resource.RLIMIT_NOFILE)\n\
             if soft<need: resource.setrlimit(resource.RLIMIT_NOFILE,(need,max(hard,need)))\n\
             pairs=[socket.socketpair() for _ in range({pairs})]\n\
             print(' '.join(str(os.fstat(s.fileno()).st_ino) for p in pairs for s in p),flush=True)\n\
             sys.stdin.read()\n",
            need = 2 * pairs + 64
        );
        let mut child = spawn_python(wrapper, &["-c", &script]);
        let line = child.first_line();
        let inodes: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        assert_eq!(inodes.len(), 2 * pairs, "python3 opened every pair");
        UnixPairs { child, inodes }
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// Inode numbers of every socket /proc/net/unix lists (column 7).
pub fn proc_net_unix_inodes() -> Vec<String> {
    unix_inodes_in("/proc/net/unix")
}

/// Inode numbers of every socket a /proc/.../net/unix file lists (column 7).
pub fn unix_inodes_in(file: &str) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("read {file}: {e}"))
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(6).map(str::to_string))
        .collect()
}

/// A python3 child running `args` (a script path or `-c SCRIPT`), started through `wrapper`
/// (e.g. `ip netns exec NS`, which execs python3, so the pid is python's own), with stdin and
/// stdout piped: a script that reads stdin to its end lives until it is dropped.
pub fn spawn_python(wrapper: &[&str], args: &[&str]) -> KillOnDrop {
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg("python3");
            command
        }
        None => Command::new("python3"),
    };
    let child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    KillOnDrop(child)
}

impl KillOnDrop {
    /// The first line the child prints (its "ready" line), without the newline. Reads the pipe
    /// byte by byte so nothing after the line is taken from it.
    pub fn first_line(&mut self) -> String {
        use std::io::Read;
        let stdout = self.0.stdout.as_mut().expect("stdout piped");
        let mut line = Vec::new();
        let mut byte = [0u8];
        while stdout.read(&mut byte).expect("child's stdout") == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        String::from_utf8_lossy(&line).into_owned()
    }
}

/// The port in a holder child's first line, `ready PORT`, which it prints once it holds its sockets.
pub fn ready_port(line: &str) -> u16 {
    line.strip_prefix("ready ")
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or_else(|| panic!("holder did not get ready: {line:?}"))
}

/// `bpfq doctor`'s verdict on `target` (status, detail): "works", "works with fallback" and
/// which, or "unavailable" and why.
/// For tests of targets that a kernel may refuse whatever bpfq emits, to check bpfq's words
/// there instead of rows.
pub fn doctor_verdict(target: &str) -> (String, String) {
    let out = bpfq_ok(&["doctor", "-o", "csv"]);
    let item = format!("target {target},");
    let line = out
        .lines()
        .find(|l| l.starts_with(&item))
        .unwrap_or_else(|| panic!("doctor lists no {target}: {out}"));
    let mut fields = line[item.len()..].splitn(2, ',');
    let status = fields.next().unwrap_or_default().to_string();
    let detail = fields
        .next()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    (status, detail)
}

/// Whether bpfq builds task_vma paths by the dentry walk on this kernel (`bpfq doctor`: the
/// probe found that the verifier refuses `bpf_d_path` of `vma->vm_file->f_path`, an untrusted
/// pointer on the 6.18 build of these machines); `explain` must say so.
pub fn vma_paths_walk() -> bool {
    let doctor = bpfq_ok(&["doctor"]);
    let line = doctor
        .lines()
        .find(|l| l.starts_with("feature vma_file_path_trusted"))
        .unwrap_or_else(|| panic!("doctor lists vma_file_path_trusted: {doctor}"));
    let walks = line.split_whitespace().nth(2) == Some("no");
    let explain = bpfq_ok(&["explain", "from task_vma select path"]);
    assert_eq!(
        explain.contains("d_path: dentry walk"),
        walks,
        "{line}\n{explain}"
    );
    walks
}
