//! Stage `load`, refusals: a verifier-refused program -> the text bpfq shows its user. Guarantees
//! the verifier's log is shown only on request (`verbose`): without it the user gets the query
//! clause the verifier stopped in, one line of reason in bpfq's words (read from the verifier's
//! own final messages, never guessed) and the hint that `--verbose` shows the log.

use std::io;

/// How many of the log's last non-empty lines may hold the verifier's reason: after it come
/// only bookkeeping lines ("processed N insns ...", "verification time ...").
const REASON_WINDOW: usize = 6;

/// Verifier messages bpfq recognises (a fragment of the kernel's message) and how it says them.
/// The kernel's wording of these has been stable since 5.x; an unknown message is `None`.
const KNOWN_MESSAGES: &[(&str, &str)] = &[
    (
        "BPF program is too large",
        "the program is too complex to verify: the verifier explored over 1,000,000 instructions",
    ),
    (
        "combined stack size",
        "the program's stack is larger than the 512 bytes the kernel allows",
    ),
    (
        "invalid indirect read from stack",
        "a helper is given stack bytes the program never wrote",
    ),
    (
        "invalid read from stack",
        "the program reads stack bytes it never wrote",
    ),
    (
        "invalid write to stack",
        "a stack write outside the program's 512-byte frame",
    ),
    (
        "invalid stack off",
        "a stack access outside the program's 512-byte frame",
    ),
    (
        "invalid access to map value",
        "an access outside the bounds of a map value",
    ),
    (
        "back-edge from insn",
        "the program contains a loop the verifier cannot prove ends",
    ),
    (
        "infinite loop detected",
        "the program contains a loop that never ends",
    ),
    (
        "unreachable insn",
        "the program holds an instruction that can never run (the verifier refuses dead code)",
    ),
    ("jump out of range", "a jump lands outside the program"),
    (
        "last insn is not an exit or jmp",
        "the program does not end with an exit",
    ),
    (
        "unknown func",
        "the program calls a helper this kernel does not have",
    ),
    (
        "invalid bpf_context access",
        "a read of the iterator's context at an offset the kernel does not allow",
    ),
    (
        "dereference of modified ctx ptr",
        "the iterator's context pointer is used after it was moved",
    ),
    (
        "access beyond struct",
        "a load goes past the end of a kernel structure",
    ),
    ("misaligned", "a misaligned memory access"),
    (
        "unbounded memory access",
        "a helper is given a length the verifier cannot bound",
    ),
    (
        "min value is negative",
        "a helper is given a length that may be negative",
    ),
    (
        "invalid zero-sized read",
        "a helper is given a length that may be zero",
    ),
    (
        "Unreleased reference",
        "a reference taken from the kernel is never released",
    ),
];

/// Why a helper is refused: under lockdown=confidentiality the kernel withholds the helpers that
/// read kernel memory (`bpf_probe_read_kernel`, since Linux 5.13 at load time), which bpfq uses
/// for fields the verifier cannot check, pointer casts without `bpf_rdonly_cast`, and names it
/// copies (paths, cgroup and kernfs names).
pub fn refused_helper(helper: &str, lockdown: &crate::lockdown::Lockdown) -> String {
    let reads_kernel_memory = helper.starts_with("bpf_probe_read_kernel")
        || helper == "bpf_probe_read"
        || helper == "bpf_probe_read_str";
    if reads_kernel_memory && *lockdown == crate::lockdown::Lockdown::Confidentiality {
        return format!(
            "kernel lockdown is in confidentiality mode, which denies BPF programs {helper}; \
             this part of the query reads kernel memory through it (remove it, or boot with \
             lockdown=integrity); `bpfq doctor` lists the targets that still work"
        );
    }
    format!("the program calls {helper}, which this kernel does not allow in iterator programs")
}

/// The verifier's reason for refusing, in bpfq's words, when one of the log's last lines is a
/// message bpfq recognises.
pub fn reason(log: &str) -> Option<String> {
    log.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .rev()
        .take(REASON_WINDOW)
        .find_map(reason_of_line)
}

fn reason_of_line(line: &str) -> Option<String> {
    if let Some(register) = line.strip_suffix(" !read_ok") {
        return Some(if register == "R0" {
            "the program exits without setting its return value (R0)".to_string()
        } else {
            format!("register {register} is read before anything is written to it")
        });
    }
    if let Some((register, kind)) = line.split_once(" invalid mem access ") {
        let kind = kind.trim_matches('\'');
        return Some(if kind.contains("or_null") {
            format!("a pointer that may be NULL ({register}) is dereferenced before it is checked")
        } else if kind == "scalar" || kind == "inv" {
            format!("a load through {register}, which holds a number, not a pointer")
        } else {
            format!("a load through {register} ({kind}) that the verifier does not allow")
        });
    }
    if let (Some((register, rest)), true) = (line.split_once(" type="), line.contains(" expected="))
    {
        let (found, expected) = rest.split_once(" expected=")?;
        return Some(format!(
            "a helper's argument {register} is the wrong kind of value ({found}; it expects {expected})"
        ));
    }
    if let Some(helper) = line
        .split_once("cannot use helper ")
        .map(|(_, rest)| rest.split('#').next().unwrap_or(rest))
    {
        return Some(refused_helper(helper, &crate::lockdown::lockdown()));
    }
    KNOWN_MESSAGES
        .iter()
        .find(|(fragment, _)| line.contains(fragment))
        .map(|(_, words)| words.to_string())
}

/// What the errno of a refused load means (the kernel's log says more).
fn errno_meaning(errno: i32) -> String {
    match errno {
        libc::EACCES => "EACCES: unsafe or invalid program".to_string(),
        libc::EINVAL => "EINVAL: malformed program or attach target".to_string(),
        libc::ENOSPC => "ENOSPC: the log exceeded 16 MiB and was cut".to_string(),
        other => io::Error::from_raw_os_error(other).to_string(),
    }
}

/// Why the kernel refused, in one line: the reason when recognised, then what the errno means.
fn why(errno: i32, log: &str) -> String {
    let meaning = errno_meaning(errno);
    if log.trim().is_empty() {
        return format!("the kernel gave no verifier log ({meaning})");
    }
    match reason(log) {
        Some(reason) => format!("{reason} ({meaning})"),
        None => format!("not a reason bpfq recognises ({meaning})"),
    }
}

/// The one-line summary of a refusal (`LoadError`'s `Display`): never a line of the log.
pub fn summary(errno: i32, log: &str) -> String {
    format!("the BPF verifier rejected the program: {}", why(errno, log))
}

/// Where in the query the verifier stopped: the instruction and the note of the clause it was
/// compiled from.
#[derive(Debug, Clone, Copy)]
pub struct StoppedAt<'a> {
    pub instruction: usize,
    pub clause: &'a str,
}

/// The verifier's answer to a program load: the errno and the log it wrote.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    pub errno: i32,
    pub log: &'a str,
}

/// The whole message for a verifier refusal of the program compiled from `query`. `verbose`
/// appends the full log; without it the message ends with the hint that `--verbose` shows it.
pub fn report(
    Refusal { errno, log }: Refusal<'_>,
    query: &str,
    stopped: Option<StoppedAt<'_>>,
    verbose: bool,
) -> String {
    let mut text = format!("the kernel's verifier refused the program compiled from:\n  {query}\n");
    if let Some(at) = stopped {
        text += &format!(
            "it stopped at instruction {}, from: {}\n",
            at.instruction, at.clause
        );
    }
    text += &format!("why: {}\n", why(errno, log));
    if log.trim().is_empty() {
        // Nothing more to show, with or without --verbose.
    } else if verbose {
        let lines = log.lines().count();
        text += &format!("the verifier's log ({lines} lines):\n{}\n", log.trim_end());
    } else {
        text += "--verbose shows the verifier's log\n";
    }
    text += &format!(
        "bpfq compiled this program for this kernel ({}), whose verifier refused it: this kernel \
         differs from what bpfq expects of it, or bpfq has a bug; please report it with the \
         output of `bpfq explain` and `bpfq doctor`",
        kernel_release()
    );
    text
}

/// `uname -r`, to name the kernel whose verifier refused a program.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| format!("Linux {}", text.trim()))
        .unwrap_or_else(|_| "release unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused helper (the kernel's "program of this type cannot use helper NAME#ID"): under
    /// lockdown=confidentiality the memory-reading helpers are named as lockdown's doing.
    #[test]
    fn refused_helpers_name_lockdown_where_it_is_the_cause() {
        use crate::lockdown::Lockdown;
        let line = "program of this type cannot use helper bpf_probe_read_kernel#113";
        let helper = line
            .split_once("cannot use helper ")
            .unwrap()
            .1
            .split('#')
            .next()
            .unwrap();
        assert_eq!(helper, "bpf_probe_read_kernel");
        let confidential = refused_helper(helper, &Lockdown::Confidentiality);
        assert!(confidential.starts_with("kernel lockdown is in confidentiality mode, which denies BPF programs bpf_probe_read_kernel"), "{confidential}");
        for mode in [Lockdown::None, Lockdown::Integrity] {
            assert_eq!(
                refused_helper(helper, &mode),
                "the program calls bpf_probe_read_kernel, which this kernel does not allow in iterator programs"
            );
        }
        // Other helpers are never lockdown's doing.
        assert_eq!(
            refused_helper("bpf_d_path", &Lockdown::Confidentiality),
            "the program calls bpf_d_path, which this kernel does not allow in iterator programs"
        );
        assert!(reason(&format!(
            "12: (85) call bpf_probe_read_kernel#113\n{line}\n"
        ))
        .is_some_and(|r| r.contains("bpf_probe_read_kernel")));
    }

    /// Last lines of level-1 logs in the kernel's wording (kernel/bpf/verifier.c); the R0 and
    /// 'scalar' cases are also met on the running kernel by the kernel tests.
    #[test]
    fn recognised_messages_read_in_bpfq_words() {
        let cases = [
            (
                "0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n",
                "the program exits without setting its return value (R0)",
            ),
            (
                "2: (61) r3 = *(u32 *)(r2 +0)\nR2 invalid mem access 'scalar'\nprocessed 3 insns\n",
                "a load through R2, which holds a number, not a pointer",
            ),
            (
                "1: (79) r2 = *(u64 *)(r1 +8)\nR1 invalid mem access 'trusted_ptr_or_null_'\n",
                "a pointer that may be NULL (R1) is dereferenced before it is checked",
            ),
            (
                "5: (85) call bpf_seq_write#127\nR2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_\n",
                "a helper's argument R2 is the wrong kind of value (scalar; it expects fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_)",
            ),
            (
                "BPF program is too large. Processed 1000001 insn\nprocessed 1000001 insns (limit 1000000)\n",
                "the program is too complex to verify: the verifier explored over 1,000,000 instructions",
            ),
            (
                "4: (79) r1 = *(u64 *)(r10 -16)\ninvalid read from stack off -16+0 size 8\n",
                "the program reads stack bytes it never wrote",
            ),
            (
                "back-edge from insn 3 to 1\nprocessed 0 insns\n",
                "the program contains a loop the verifier cannot prove ends",
            ),
        ];
        for (log, words) in cases {
            assert_eq!(reason(log).as_deref(), Some(words), "{log}");
        }
    }

    #[test]
    fn unknown_messages_and_old_lines_are_not_guessed() {
        assert_eq!(
            reason("0: (95) exit\nsomething new\nprocessed 1 insns\n"),
            None
        );
        // A recognisable line too far from the end is not the verifier's final reason.
        let old = format!("R0 !read_ok\n{}", "0: R1=ctx()\n".repeat(REASON_WINDOW));
        assert_eq!(reason(&old), None);
    }

    #[test]
    fn report_shows_the_log_only_when_verbose() {
        let err = Refusal {
            errno: libc::EACCES,
            log: "func#0 @0\n0: (95) exit\nR0 !read_ok\nprocessed 1 insns\n",
        };
        let stopped = Some(StoppedAt {
            instruction: 0,
            clause: "where pid == 1",
        });
        let quiet = report(err, "from task select pid", stopped, false);
        assert!(!quiet.contains("func#0"), "{quiet}");
        assert!(!quiet.contains("!read_ok"), "{quiet}");
        assert!(
            quiet.contains("--verbose shows the verifier's log"),
            "{quiet}"
        );
        assert!(
            quiet.contains("it stopped at instruction 0, from: where pid == 1"),
            "{quiet}"
        );
        let loud = report(err, "from task select pid", stopped, true);
        assert!(
            loud.contains("func#0 @0\n0: (95) exit\nR0 !read_ok\nprocessed 1 insns\n"),
            "{loud}"
        );
        assert!(!loud.contains("--verbose shows"), "{loud}");
    }

    #[test]
    fn an_empty_log_says_so_with_or_without_verbose() {
        let err = Refusal {
            errno: libc::EINVAL,
            log: "",
        };
        for verbose in [false, true] {
            let text = report(err, "q", None, verbose);
            assert!(text.contains("EINVAL"), "{text}");
            assert!(
                text.contains("why: the kernel gave no verifier log"),
                "{text}"
            );
            assert!(!text.contains("--verbose"), "{text}");
        }
    }
}
