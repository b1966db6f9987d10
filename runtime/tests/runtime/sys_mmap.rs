//! Tests of `sys::mmap_readonly`: the live sysfs BTF maps (MAP_PRIVATE); a file that reports
//! size 0 (procfs), or whose mmap the kernel refuses (sysfs before 6.16), is read instead.

use std::path::Path;

use bpfq_runtime::sys::{mmap_readonly, ReadMethod};

#[test]
fn maps_the_live_vmlinux_btf() {
    let btf = mmap_readonly(Path::new("/sys/kernel/btf/vmlinux")).expect("map vmlinux BTF");
    let bytes = btf.as_ref();
    let expected_len = std::fs::metadata("/sys/kernel/btf/vmlinux")
        .expect("stat")
        .len() as usize;
    assert_eq!(bytes.len(), expected_len);
    // struct btf_header starts with magic 0xeB9F (little-endian on x86).
    assert_eq!(&bytes[..2], &[0x9f, 0xeb]);
    assert_eq!(btf.method(), ReadMethod::Mapped);
}

#[test]
fn zero_sized_files_are_read_instead() {
    let status = mmap_readonly(Path::new("/proc/self/status")).expect("read procfs file");
    let text = String::from_utf8_lossy(status.as_ref()).into_owned();
    assert!(text.contains("CapEff:"), "{text}");
    assert_eq!(status.method(), ReadMethod::Read);
}

/// /sys/kernel/notes is a sysfs binary file with a size and no mmap: kernfs answers ENODEV,
/// as it does for /sys/kernel/btf/vmlinux on Linux 5.10-6.15.
#[test]
fn files_that_refuse_mmap_are_read_instead() {
    let path = Path::new("/sys/kernel/notes");
    let size = std::fs::metadata(path).expect("stat").len();
    assert!(size > 0, "the test needs a sized sysfs file");
    let notes = mmap_readonly(path).expect("read sysfs notes");
    assert_eq!(notes.method(), ReadMethod::Read);
    assert_eq!(
        notes.as_ref(),
        std::fs::read(path).expect("read").as_slice()
    );
}

#[test]
fn missing_files_are_errors() {
    assert!(mmap_readonly(Path::new("/nonexistent/bpfq-btf")).is_err());
}

#[test]
fn the_mapping_can_be_shared_across_threads() {
    let btf =
        std::sync::Arc::new(mmap_readonly(Path::new("/sys/kernel/btf/vmlinux")).expect("map"));
    let clone = std::sync::Arc::clone(&btf);
    let len = std::thread::spawn(move || clone.as_ref().as_ref().len())
        .join()
        .expect("thread");
    assert_eq!(len, btf.as_ref().as_ref().len());
}
