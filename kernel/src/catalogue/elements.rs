//! Iterator catalogue: the targets that walk the elements of one BPF map. Their context holds the
//! map on every call, even the final one (`bpf_iter_run_prog` with no element); what is NULL
//! then is the element. Read from the kernel sources (`bpf_hash_map_seq_show`,
//! `bpf_array_map_seq_show`, `bpf_sk_storage_map_seq_show`, `sock_map_seq_show`,
//! `sock_hash_seq_show`): they fill the element fields only for an element.

/// (target, the context field that is NULL on the final call).
///
/// sockmap passes `key` for every slot of a BPF_MAP_TYPE_SOCKMAP, filled or not, and `sk` only
/// when the slot holds a socket: `sk` is NULL both for empty slots and on the final call, so
/// testing it skips both.
const ELEMENT_FIELDS: [(&str, &str); 3] = [
    ("bpf_map_elem", "key"),
    ("bpf_sk_storage_map", "sk"),
    ("sockmap", "sk"),
];

/// The element field of a map-element target, None for other targets.
pub fn element_field(target: &str) -> Option<&'static str> {
    ELEMENT_FIELDS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, field)| *field)
}
