//! Kernel test of the `dmabuf` target against the kernel's debugfs listing of the same objects,
//! /sys/kernel/debug/dma_buf/bufinfo (debugfs is mounted for the test if it is not).
//!
//! This VM has no dma-buf exporter (no udmabuf device, no dma-heap, no GPU), and a test cannot
//! create a buffer without one: here both sides list no buffer, so the test can only check that
//! bpfq's rows agree with bufinfo's object lines, whatever they are; on a machine with buffers
//! the same comparison checks every column.

use crate::common;

use common::*;
use std::process::Command;

const DEBUGFS: &str = "/sys/kernel/debug";

/// debugfs at /sys/kernel/debug for the test's lifetime: unmounted on drop if the test mounted it.
struct Debugfs {
    mounted_here: bool,
}

impl Debugfs {
    fn ensure() -> Debugfs {
        let mounts = std::fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
        let present = mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(DEBUGFS));
        if !present {
            let ok = Command::new("mount")
                .args(["-t", "debugfs", "debugfs", DEBUGFS])
                .status()
                .expect("mount")
                .success();
            assert!(ok, "mount debugfs");
        }
        Debugfs {
            mounted_here: !present,
        }
    }
}

impl Drop for Debugfs {
    fn drop(&mut self) {
        if self.mounted_here {
            let _ = Command::new("umount").arg(DEBUGFS).status();
        }
    }
}

/// The object lines of bufinfo as bpfq's columns print them: size, flags, mode, count,
/// exporter, inode, name ("<none>" there is an empty name here). Numbers are zero-padded,
/// flags and mode in hex.
fn bufinfo_objects() -> (Vec<Vec<String>>, usize) {
    let _debugfs = Debugfs::ensure();
    let text = std::fs::read_to_string(format!("{DEBUGFS}/dma_buf/bufinfo")).expect("read bufinfo");
    let total: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Total "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Total line in bufinfo:\n{text}"));
    let mut rows = Vec::new();
    for line in text.lines() {
        // Object lines start with the zero-padded size; attachment and fence lines are indented.
        if !line.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let dec = |s: &str| s.trim().parse::<u64>().unwrap().to_string();
        let hex = |s: &str| u64::from_str_radix(s.trim(), 16).unwrap().to_string();
        let name = if f[6] == "<none>" { "" } else { f[6] };
        rows.push(vec![
            dec(f[0]),
            hex(f[1]),
            hex(f[2]),
            dec(f[3]),
            f[4].to_string(),
            dec(f[5]),
            name.to_string(),
        ]);
    }
    (rows, total)
}

#[test]
fn dmabuf_rows_agree_with_debugfs_bufinfo() {
    let _k = shared_kernel();
    let (_, rows) = query_csv(
        "from dmabuf select size, flags, mode, count, exporter, inode, name order by inode",
        &[],
    );
    let (mut expected, total) = bufinfo_objects();
    expected.sort_by_key(|r| r[5].parse::<u64>().unwrap());
    assert_eq!(expected.len(), total, "bufinfo's object lines vs its total");
    assert_eq!(rows, expected, "bpfq dmabuf rows vs bufinfo");
}
