//! Stage `bind` input: the BPF map a map-element query walks (`from bpf_map_elem(map = ...)`).
//! The compiler does no I/O: whoever calls it (the CLI, on the live kernel; tests, with a fixed
//! shape) answers `MapLookup`. Guarantees: a map reference is one of name, id or pinned path,
//! and each map-element target accepts only the map types its kernel attach function accepts.

use std::fmt;

/// How a query names its map: `map = "name"`, `map = 42` (id), `map = "/sys/fs/bpf/x"` (pinned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapRef {
    Name(String),
    Id(u32),
    Pinned(String),
}

impl fmt::Display for MapRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapRef::Name(name) => write!(f, "map {name:?}"),
            MapRef::Id(id) => write!(f, "map id {id}"),
            MapRef::Pinned(path) => write!(f, "map pinned at {path}"),
        }
    }
}

/// What the compiler must know of a map: its type, and the key and value sizes the verifier
/// checks every key and value read against when the iterator link is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapShape {
    /// `enum bpf_map_type` value.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub name: String,
    /// The map's id on the machine that answered (0 when the shape was given by hand).
    pub id: u32,
    /// Possible CPUs: a per-CPU map's value buffer holds one value (rounded up to 8 bytes) each.
    pub possible_cpus: u32,
}

/// Why a map could not be looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapLookupError {
    /// No map of that name or id; `near` are names of maps that do exist, for suggestions.
    NotFound { near: Vec<String> },
    /// Anything else (no such pinned file, permission), as the system said it.
    Failed(String),
}

/// Answers "which map is this?" for the binder.
pub trait MapLookup {
    fn lookup(&self, map: &MapRef) -> Result<MapShape, MapLookupError>;
}

/// A lookup that gives the same shape for any reference (compile-only commands with
/// `--map-shape`, and golden tests, which must not depend on the host's maps).
pub struct FixedMap(pub MapShape);

impl MapLookup for FixedMap {
    fn lookup(&self, map: &MapRef) -> Result<MapShape, MapLookupError> {
        let mut shape = self.0.clone();
        if let MapRef::Name(name) = map {
            shape.name = name.clone();
        }
        Ok(shape)
    }
}

/// `enum bpf_map_type` names (UAPI values, stable), as bpftool spells them.
const MAP_TYPES: &[(u32, &str)] = &[
    (1, "hash"),
    (2, "array"),
    (3, "prog_array"),
    (4, "perf_event_array"),
    (5, "percpu_hash"),
    (6, "percpu_array"),
    (7, "stack_trace"),
    (8, "cgroup_array"),
    (9, "lru_hash"),
    (10, "lru_percpu_hash"),
    (11, "lpm_trie"),
    (12, "array_of_maps"),
    (13, "hash_of_maps"),
    (14, "devmap"),
    (15, "sockmap"),
    (16, "cpumap"),
    (17, "xskmap"),
    (18, "sockhash"),
    (19, "cgroup_storage"),
    (20, "reuseport_sockarray"),
    (21, "percpu_cgroup_storage"),
    (22, "queue"),
    (23, "stack"),
    (24, "sk_storage"),
    (25, "devmap_hash"),
    (26, "struct_ops"),
    (27, "ringbuf"),
    (28, "inode_storage"),
    (29, "task_storage"),
    (30, "bloom_filter"),
    (31, "user_ringbuf"),
    (32, "cgrp_storage"),
    (33, "arena"),
];

/// bpftool's name of a map type (`hash`, `ringbuf`), or its number.
pub fn map_type_name(map_type: u32) -> String {
    MAP_TYPES
        .iter()
        .find(|(value, _)| *value == map_type)
        .map_or_else(|| format!("type {map_type}"), |(_, name)| name.to_string())
}

/// The map type named `name` (bpftool's spelling).
pub fn map_type_by_name(name: &str) -> Option<u32> {
    MAP_TYPES
        .iter()
        .find(|(_, known)| *known == name)
        .map(|(value, _)| *value)
}

/// Per-CPU maps: the iterator's value buffer holds `round_up(value_size, 8)` bytes per CPU.
pub fn is_percpu(map_type: u32) -> bool {
    matches!(map_type, 5 | 6 | 10)
}

/// The map types each map-element target's attach function accepts (`TargetFacts::map_types`);
/// None for other targets.
pub fn accepted_types(target: &str) -> Option<&'static [u32]> {
    let facts = bpfq_kernel::catalogue::facts_of(target);
    (facts.params == bpfq_kernel::catalogue::ParamKind::Map).then_some(facts.map_types)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for (value, name) in MAP_TYPES {
            assert_eq!(map_type_by_name(name), Some(*value));
            assert_eq!(map_type_name(*value), *name);
        }
        assert_eq!(map_type_name(99), "type 99");
    }
}
