//! Kernel test of the variants for older kernels, run on this (newer) kernel: each query is
//! compiled twice through the library API, with the features derived from the running kernel's
//! BTF and with cpu v4 and `bpf_rdonly_cast` turned off by hand (as Linux 5.10 and 6.1 have
//! them), and both programs are loaded and run. The older variants must pass the real verifier
//! and read exactly what the newer ones read: signed fields (sign-extended by shifts), signed
//! division and remainder of negative numbers (INT64_MIN / -1, x / 0, x % 0 included), and
//! socket inodes read through pointer casts with `bpf_probe_read_kernel`, checked against
//! /proc/self/fd.

use crate::common;

use bpfq_compiler::layout::{ColumnKind, RowLayout};
use bpfq_kernel::{KernelFeatures, Why};
use common::with_features::{compile_with, run_rows, vmlinux};
use common::*;

/// The running kernel's features, and the same with the Linux 5.10/6.1 variants forced.
fn both_features() -> [(&'static str, KernelFeatures); 2] {
    let newest = KernelFeatures::from_btf(vmlinux()).expect("features");
    assert!(
        newest.cpu_v4 && newest.rdonly_cast,
        "this test runs on a kernel with cpu v4 and bpf_rdonly_cast (6.6+): {newest:?}"
    );
    let mut older = newest.clone();
    older.cpu_v4 = false;
    older.rdonly_cast = false;
    older.why.cpu_v4 = Why::Given("kernel_isa_variants");
    older.why.rdonly_cast = Why::Given("kernel_isa_variants");
    [("v4", newest), ("v3", older)]
}

/// The integer columns of `row`, each sign- or zero-extended to 64 bits as its kind says.
fn integers(layout: &RowLayout, row: &[u8]) -> Vec<i64> {
    layout
        .columns
        .iter()
        .map(|column| {
            let ColumnKind::Int { bytes, signed } = column.kind else {
                panic!("{} is not an integer: {:?}", column.name, column.kind)
            };
            let at = column.offset as usize;
            let mut le = [0u8; 8];
            le[..bytes as usize].copy_from_slice(&row[at..at + bytes as usize]);
            let shift = 64 - 8 * u32::from(bytes);
            let raw = u64::from_le_bytes(le) << shift;
            if signed {
                (raw as i64) >> shift
            } else {
                (raw >> shift) as i64
            }
        })
        .collect()
}

/// Runs `query` with both variants: the older one has no cpu v4 slot and no kfunc call, both
/// pass the verifier, and they write the same single row; its integer columns are returned.
fn same_single_row(query: &str) -> Vec<i64> {
    let mut seen: Vec<(Vec<u8>, Vec<i64>)> = Vec::new();
    for (what, features) in both_features() {
        let compiled = compile_with(query, &features);
        let insns = &compiled.program.insns;
        if what == "v3" {
            assert!(
                !insns.iter().any(|i| i.needs_cpu_v4() || i.is_kfunc_call()),
                "the v3 program of `{query}` uses cpu v4 or a kfunc"
            );
        }
        let rows = run_rows(&compiled, what);
        assert_eq!(rows.len(), 1, "{what} rows of `{query}`: {rows:?}");
        let values = integers(&compiled.plan.layout, &rows[0]);
        seen.push((rows[0].clone(), values));
    }
    assert_eq!(seen[0], seen[1], "v4 and v3 rows of `{query}` differ");
    seen.swap_remove(0).1
}

/// BPF's signed division: x / 0 = 0, INT64_MIN / -1 = INT64_MIN, truncation toward zero.
fn bpf_sdiv(a: i64, b: i64) -> i64 {
    if b == 0 {
        0
    } else {
        a.wrapping_div(b)
    }
}

/// BPF's signed remainder: x % 0 = x, the sign of the dividend.
fn bpf_smod(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        a.wrapping_rem(b)
    }
}

/// `value` as an s64 computed at run time (`pid - pid` is 0 only once the program runs, so
/// nothing is folded at compile time).
fn runtime(value: i64) -> String {
    match value {
        i64::MIN => "(pid - pid - 9223372036854775807 - 1)".into(),
        v if v < 0 => format!("(pid - pid - {})", v.unsigned_abs()),
        v => format!("(pid - pid + {v})"),
    }
}

#[test]
fn v3_signed_division_and_remainder_equal_v4_and_bpf_semantics() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("dv"));
    // (dividend, divisor, divisor written as a constant)
    let cases: [(i64, i64, bool); 16] = [
        (-7, 2, false),
        (7, -2, false),
        (-7, -2, false),
        (7, 2, false),
        (i64::MIN, -1, false),
        (i64::MIN, 1, false),
        (i64::MIN, i64::MIN, false),
        (-7, 0, false),
        (7, 0, false),
        (i64::MIN, 0, false),
        (i64::MAX, -1, false),
        (-7, -3, true),
        (-7, 3, true),
        (i64::MIN, -1, true),
        (i64::MIN, -2147483648, true),
        (5, -2147483648, true),
    ];
    let mut columns = Vec::new();
    let mut expected = Vec::new();
    for (a, b, constant) in cases {
        let divisor = if constant { b.to_string() } else { runtime(b) };
        let dividend = runtime(a);
        columns.push(format!("{dividend} / {divisor}"));
        columns.push(format!("{dividend} % {divisor}"));
        expected.push(bpf_sdiv(a, b));
        expected.push(bpf_smod(a, b));
    }
    let query = format!(
        "from task select {} where pid == {}",
        columns.join(", "),
        child.pid()
    );
    let got = same_single_row(&query);
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "column {i}: {}", columns[i]);
    }
}

/// A `name : value` line of /proc/PID/sched.
fn proc_sched(pid: u32, name: &str) -> i64 {
    let sched = std::fs::read_to_string(format!("/proc/{pid}/sched")).expect("read sched");
    sched
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("/proc/{pid}/sched has no {name}"))
}

#[test]
fn v3_signed_fields_equal_v4_and_proc() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("sx"));
    // Raising oom_score_adj needs no capability (lowering it would need CAP_SYS_RESOURCE).
    std::fs::write(format!("/proc/{}/oom_score_adj", child.pid()), "617")
        .expect("oom_score_adj writable");
    // numa_preferred_nid is an s32, -1 until NUMA balancing picks a node; read through the
    // task pointer and through a cast of it (probe reads in the v3 program), and divided.
    let query = format!(
        "from task select pid, task.prio, task.numa_preferred_nid as nid, \
         cast(task as struct task_struct).numa_preferred_nid as nid_cast, \
         cast(task as struct task_struct).prio as prio_cast, task.signal.oom_score_adj as adj, \
         (task.numa_preferred_nid - 616) / 10 as q, (task.numa_preferred_nid - 616) % -10 as r \
         where pid == {}",
        child.pid()
    );
    let row = same_single_row(&query);
    let prio = proc_stat_field(child.pid(), 18)
        .parse::<i64>()
        .expect("priority in /proc/PID/stat")
        + 100;
    let nid = proc_sched(child.pid(), "numa_preferred_nid");
    assert_eq!(
        row,
        [
            i64::from(child.pid()),
            prio,
            nid,
            nid,
            prio,
            617,
            bpf_sdiv(nid - 616, 10),
            bpf_smod(nid - 616, -10)
        ]
    );
}

/// The inode in `/proc/self/fd/<fd>`'s `socket:[INODE]` link.
fn socket_inode(fd: i32) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).expect("fd link");
    let text = link.to_string_lossy();
    text.strip_prefix("socket:[")
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a socket: {text}"))
}

#[test]
fn v3_tcp_inode_through_casts_equals_v4_and_proc_self_fd() {
    use std::os::fd::AsRawFd;
    let _k = shared_kernel();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("address").port();
    let inode = socket_inode(listener.as_raw_fd());
    // The stdlib column, the same through the socket_alloc around the struct socket (two casts,
    // a pointer read through the first), a filter that reads through the casts too, and the
    // s16 unicast TTL of the inet_sock, -1 until IP_TTL is set (minus 1 in 64 bits: the
    // sign extension shows).
    let through_socket = "cast(cast(sk_common as struct sock).sk_socket as struct socket_alloc)\
                          .vfs_inode.i_ino";
    let query = format!(
        "from tcp select sport, inode, {through_socket} as ino2, \
         cast(sk_common as struct inet_sock).uc_ttl - 1 as ttl \
         where sport == {port} and {through_socket} == {inode}"
    );
    let row = same_single_row(&query);
    assert_eq!(row, [i64::from(port), inode as i64, inode as i64, -2]);
}
