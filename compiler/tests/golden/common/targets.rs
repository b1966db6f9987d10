//! Shared by the compile-only text-output test and the kernel pin test: the targets whose
//! default columns a program prints in the kernel (`bpfq pin`), so both walk the same list.

/// Targets whose `select *` prints with `bpf_seq_printf` (map-element targets need a live map;
/// unix and ksym are E0303 by design). The text-output test also compiles `dmabuf`, which the
/// pin test leaves out.
pub const TEXT_OUTPUT_TARGETS: [&str; 12] = [
    "task",
    "task_file",
    "task_vma",
    "tcp",
    "udp",
    "netlink",
    "ipv6_route",
    "bpf_map",
    "bpf_prog",
    "bpf_link",
    "kmem_cache",
    "cgroup",
];
