//! Iterator catalogue: everything bpfq knows about a target that its BTF does not say, in one
//! record per target (`TargetFacts`). Guarantees: every stage reads a target's behaviour from
//! this record (`IterTarget::facts`); a target absent from the table is a well-behaved one
//! (`WELL_BEHAVED`: seq transport, main object NULL on the final call, no parameters).

use super::object_count::{routes_in_rt6_stats, unix_sockets_in_protocols, ObjectCount};
use super::RowTransport;

/// Which parameters a target's link takes (`from target(...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// None.
    None,
    /// `pid` or `tid`: one process (task, task_file, task_vma).
    Task,
    /// `path` or `id`, and `order`: a cgroup walk.
    Cgroup,
    /// `netns`: the network namespace shown.
    Netns,
    /// `map`: the map whose elements are walked (the map-element targets).
    Map,
}

/// One target's facts.
#[derive(Clone, Copy, Debug)]
pub struct TargetFacts {
    pub name: &'static str,
    /// How its rows reach user space where the kernel has a ring buffer (see `transport.rs`).
    pub transport: RowTransport,
    /// Its seq output, read in pieces, misses objects even while nothing changes (unix), so it
    /// cannot be printed object by object by the kernel (`bpfq pin`), and a walk the kernel
    /// pauses may miss objects.
    pub seq_loses_objects: bool,
    /// The context field that is NULL on the final call, when it is not the main object: the
    /// element of a map-element target (whose `map` is set on every call).
    pub final_null_field: Option<&'static str>,
    pub params: ParamKind,
    /// The map types its attach function accepts (map-element targets; empty for others).
    pub map_types: &'static [u32],
    /// It lists the symbol of the program that dumps it; a filter skips it.
    pub lists_own_program: bool,
    /// The kernel shows its last object twice; only the row stream can drop the repeat, so a
    /// query of it groups in user space.
    pub repeats_last_row: bool,
    /// It lists bpfq's own maps, so a group map of the kernel would show up in its rows.
    pub lists_own_maps: bool,
    /// Where the kernel keeps a count of its objects (to size a ring before the walk).
    pub object_count: Option<ObjectCount>,
}

/// Integer members (struct, member) that hold a kernel address: typed as pointers, so they are
/// hidden, compared and refused in arithmetic like any pointer. A fact of the struct, whichever
/// target (or cast) reaches it: ksym's symbol address, an rb-tree node's parent (its colour in
/// bit 0), the task owning a mutex or an rw_semaphore (`atomic_long_t`, flags in the low bits).
pub const ADDRESS_MEMBERS: &[(&str, &str)] = &[
    ("kallsym_iter", "value"),
    ("rb_node", "__rb_parent_color"),
    ("mutex", "owner"),
    ("rw_semaphore", "owner"),
];

/// The facts of a target the table does not list.
pub const WELL_BEHAVED: TargetFacts = TargetFacts {
    name: "",
    transport: RowTransport::Seq,
    seq_loses_objects: false,
    final_null_field: None,
    params: ParamKind::None,
    map_types: &[],
    lists_own_program: false,
    repeats_last_row: false,
    lists_own_maps: false,
    object_count: None,
};

const fn with_params(name: &'static str, params: ParamKind) -> TargetFacts {
    TargetFacts {
        name,
        params,
        ..WELL_BEHAVED
    }
}

/// A map-element target: its element field is NULL on the final call (the map never is).
/// Read from the kernel sources (`bpf_hash_map_seq_show`, `bpf_array_map_seq_show`,
/// `bpf_sk_storage_map_seq_show`, `sock_map_seq_show`, `sock_hash_seq_show`): they fill the
/// element fields only for an element. The map types are those `bpf_iter_attach_map`,
/// `bpf_sk_storage`'s and sock_map's attach functions accept.
const fn map_elements(
    name: &'static str,
    element: &'static str,
    map_types: &'static [u32],
) -> TargetFacts {
    TargetFacts {
        name,
        final_null_field: Some(element),
        params: ParamKind::Map,
        map_types,
        ..WELL_BEHAVED
    }
}

/// Every target that is not `WELL_BEHAVED`.
///
/// unix: the kernel's iter/unix batches one hash bucket at a time and, when a `read(2)`
/// returns in the middle of a bucket (the 32 KiB seq buffer is full), resumes at the *next*
/// bucket, so the rest of that bucket is never shown (measured on 6.18: 20,002 sockets gave
/// 16,800 rows, while /proc/net/unix listed all). With nothing written to the seq buffer, the
/// walk never stops in the middle, so every socket is shown.
///
/// ipv6_route: the kernel's fib6 walker starts again from the root at every `read(2)` and
/// skips the routes it has already shown, so a dump in 32 KiB reads costs quadratic time
/// (measured on 6.18 with 10,000 routes: 7 ms of kernel time in one read, 20 ms in 20) and a
/// route added or removed between reads shifts the skip count (a route shown twice or never).
/// One walk into the ring shows each route once, and beats `ip -6 route` (bench/README.md). Its
/// seq output is slow but whole on a quiet system, as /proc/net/ipv6_route is.
///
/// sockmap passes `key` for every slot of a BPF_MAP_TYPE_SOCKMAP, filled or not, and `sk` only
/// when the slot holds a socket: `sk` is NULL both for empty slots and on the final call, so
/// testing it skips both.
///
/// ksym lists the kernel symbol of the very program that is dumping it
/// (`bpf_prog_<tag>_bpfq_ksym`), shows its last symbol twice, and holds each symbol's address
/// in an integer (`kallsym_iter.value`).
const FACTS: &[TargetFacts] = &[
    with_params("task", ParamKind::Task),
    with_params("task_file", ParamKind::Task),
    with_params("task_vma", ParamKind::Task),
    with_params("cgroup", ParamKind::Cgroup),
    with_params("tcp", ParamKind::Netns),
    with_params("udp", ParamKind::Netns),
    with_params("netlink", ParamKind::Netns),
    TargetFacts {
        transport: RowTransport::RingBuf,
        seq_loses_objects: true,
        object_count: Some(ObjectCount {
            proc_net_file: "protocols",
            parse: unix_sockets_in_protocols,
        }),
        ..with_params("unix", ParamKind::Netns)
    },
    TargetFacts {
        transport: RowTransport::RingBuf,
        object_count: Some(ObjectCount {
            proc_net_file: "rt6_stats",
            parse: routes_in_rt6_stats,
        }),
        ..with_params("ipv6_route", ParamKind::Netns)
    },
    map_elements("bpf_map_elem", "key", &[1, 2, 5, 6, 9, 10]),
    map_elements("bpf_sk_storage_map", "sk", &[24]),
    map_elements("sockmap", "sk", &[15, 18]),
    TargetFacts {
        lists_own_program: true,
        repeats_last_row: true,
        ..with_params("ksym", ParamKind::None)
    },
    TargetFacts {
        lists_own_maps: true,
        ..with_params("bpf_map", ParamKind::None)
    },
];

/// The facts of target `name` (`WELL_BEHAVED` for one the table does not list).
pub fn facts_of(name: &str) -> &'static TargetFacts {
    FACTS
        .iter()
        .find(|facts| facts.name == name)
        .unwrap_or(&WELL_BEHAVED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_and_ipv6_routes_use_the_ring_buffer() {
        assert_eq!(facts_of("unix").transport, RowTransport::RingBuf);
        assert_eq!(facts_of("ipv6_route").transport, RowTransport::RingBuf);
        assert!(facts_of("unix").seq_loses_objects);
        assert!(!facts_of("ipv6_route").seq_loses_objects);
        for other in ["task", "tcp", "udp", "netlink", "ksym", "unixx"] {
            assert_eq!(facts_of(other).transport, RowTransport::Seq, "{other}");
        }
    }

    #[test]
    fn only_ring_targets_have_a_count() {
        assert!(facts_of("unix").object_count.is_some());
        assert!(facts_of("ipv6_route").object_count.is_some());
        assert!(facts_of("tcp").object_count.is_none());
    }

    #[test]
    fn each_target_is_listed_once() {
        for (i, facts) in FACTS.iter().enumerate() {
            assert!(
                FACTS[i + 1..].iter().all(|other| other.name != facts.name),
                "{} twice",
                facts.name
            );
        }
    }
}
