//! Test support: the real `bpfq` run under an address-space cap and a generous wall-clock cap,
//! so an input that would make it allocate without end or block fails the test (killed, or
//! aborted on a failed allocation) instead of taking the machine down or hanging it.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The address-space cap of a bounded run: far above what bpfq needs (a query on the largest
/// fixture BTF stays under 200 MB), far below the machine.
pub const ADDRESS_SPACE: &str = "--as=1073741824";

/// Wall-clock cap in seconds: minutes, never a timing assertion; only turns a hang into a failure.
pub const WALL_SECONDS: &str = "300";

/// `bpfq ARGS` in `dir` with `env`, capped; stdin is empty.
pub fn bounded_command(
    args: &[&str],
    dir: &Path,
    env: &[(&str, &str)],
    limits: &[&str],
) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["--signal=KILL", WALL_SECONDS, "prlimit", ADDRESS_SPACE])
        .args(limits)
        .arg(super::bpfq_path())
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

/// `bounded_command` run to completion.
pub fn bounded(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    bounded_command(args, dir, env, &[])
        .output()
        .expect("timeout, prlimit and bpfq run")
}
