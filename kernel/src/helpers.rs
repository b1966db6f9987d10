//! BPF helper ids the compiler calls; the numbers are the kernel's `enum bpf_func_id` (checked against BTF fixtures by tests).

pub const MAP_LOOKUP_ELEM: u32 = 1;
pub const MAP_UPDATE_ELEM: u32 = 2;
pub const KTIME_GET_NS: u32 = 5;
pub const GET_CURRENT_PID_TGID: u32 = 14;
pub const SK_STORAGE_GET: u32 = 107;
pub const PROBE_READ_KERNEL: u32 = 113;
pub const PROBE_READ_KERNEL_STR: u32 = 115;
pub const SEQ_PRINTF: u32 = 126;
pub const SEQ_WRITE: u32 = 127;
pub const RINGBUF_OUTPUT: u32 = 130;
pub const SKC_TO_TCP6_SOCK: u32 = 136;
pub const SKC_TO_TCP_SOCK: u32 = 137;
pub const SKC_TO_UDP6_SOCK: u32 = 140;
pub const D_PATH: u32 = 147;
pub const SKC_TO_UNIX_SOCK: u32 = 178;

/// Every constant above with the suffix of its `BPF_FUNC_<name>` enumerator, for checks and listings.
pub const ALL: &[(&str, u32)] = &[
    ("map_lookup_elem", MAP_LOOKUP_ELEM),
    ("map_update_elem", MAP_UPDATE_ELEM),
    ("ktime_get_ns", KTIME_GET_NS),
    ("get_current_pid_tgid", GET_CURRENT_PID_TGID),
    ("sk_storage_get", SK_STORAGE_GET),
    ("probe_read_kernel", PROBE_READ_KERNEL),
    ("probe_read_kernel_str", PROBE_READ_KERNEL_STR),
    ("seq_printf", SEQ_PRINTF),
    ("seq_write", SEQ_WRITE),
    ("ringbuf_output", RINGBUF_OUTPUT),
    ("skc_to_tcp6_sock", SKC_TO_TCP6_SOCK),
    ("skc_to_tcp_sock", SKC_TO_TCP_SOCK),
    ("skc_to_udp6_sock", SKC_TO_UDP6_SOCK),
    ("d_path", D_PATH),
    ("skc_to_unix_sock", SKC_TO_UNIX_SOCK),
];
