//! Test support: malformed BTF files made from a fixture's bytes — truncations, wrong magic,
//! section offsets and lengths out of range, and broken type records (found by walking the
//! raw records here, independently of bpfq's reader).

use std::collections::HashMap;

const HEADER: usize = 24;
const STRUCT: u32 = 4;
const UNION: u32 = 5;
const ARRAY: u32 = 3;
const TYPEDEF: u32 = 8;
const FUNC: u32 = 12;

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn put32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// One type record of the raw BTF: where it starts, its kind and member count.
#[derive(Clone, Copy)]
struct Record {
    at: usize,
    kind: u32,
    vlen: u32,
}

/// A fixture's raw bytes with the position of every type record, by id.
pub struct RawBtf {
    pub bytes: Vec<u8>,
    records: Vec<Record>,
    strings_at: usize,
    strings_len: u32,
    types_len: u32,
    by_name: HashMap<(String, u32), u32>,
}

impl RawBtf {
    pub fn new(bytes: Vec<u8>) -> RawBtf {
        let types_at = HEADER + le32(&bytes, 8) as usize;
        let types_len = le32(&bytes, 12);
        let strings_at = HEADER + le32(&bytes, 16) as usize;
        let strings_len = le32(&bytes, 20);
        let name = |off: u32| {
            let start = strings_at + off as usize;
            let end = start + bytes[start..].iter().position(|&b| b == 0).unwrap();
            String::from_utf8_lossy(&bytes[start..end]).into_owned()
        };
        let mut records = vec![Record {
            at: 0,
            kind: 0,
            vlen: 0,
        }];
        let mut by_name = HashMap::new();
        let mut at = types_at;
        while at < types_at + types_len as usize {
            let info = le32(&bytes, at + 4);
            let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
            let extra = match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen,
                6 | 13 => 8 * vlen,
                _ => 0,
            };
            let name_off = le32(&bytes, at);
            if name_off != 0 {
                by_name
                    .entry((name(name_off), kind))
                    .or_insert(records.len() as u32);
            }
            records.push(Record { at, kind, vlen });
            at += 12 + extra as usize;
        }
        RawBtf {
            bytes,
            records,
            strings_at,
            strings_len,
            types_len,
            by_name,
        }
    }

    fn id(&self, name: &str, kind: u32) -> u32 {
        self.by_name[&(name.to_string(), kind)]
    }

    fn record(&self, name: &str, kind: u32) -> Record {
        self.records[self.id(name, kind) as usize]
    }

    fn member_name(&self, bytes: &[u8], member_at: usize) -> String {
        let start = self.strings_at + le32(bytes, member_at) as usize;
        let end = start + bytes[start..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8_lossy(&bytes[start..end]).into_owned()
    }

    /// The type id member `name` of `task_struct` names.
    fn task_member_type(&self, name: &str) -> u32 {
        let task = self.record("task_struct", STRUCT);
        let member_at = (0..task.vlen as usize)
            .map(|i| task.at + 12 + 12 * i)
            .find(|&at| self.member_name(&self.bytes, at) == name)
            .unwrap_or_else(|| panic!("task_struct.{name}"));
        le32(&self.bytes, member_at + 4)
    }

    /// The type id `task_struct.pid` names, through typedefs, as a record.
    fn pid_int(&self) -> Record {
        let mut id = self.task_member_type("pid");
        while self.records[id as usize].kind == TYPEDEF {
            id = le32(&self.bytes, self.records[id as usize].at + 8);
        }
        self.records[id as usize]
    }

    /// The array type `task_struct.comm` names (`char[16]`), as a record.
    fn comm_array(&self) -> Record {
        let array = self.records[self.task_member_type("comm") as usize];
        assert_eq!(array.kind, ARRAY);
        array
    }

    fn mutated(&self, change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        change(&mut bytes);
        bytes
    }

    /// Every malformed variant: (name, bytes). Each one is wrong in one way.
    pub fn variants(&self) -> Vec<(&'static str, Vec<u8>)> {
        let len = self.bytes.len();
        let task = self.record("task_struct", STRUCT);
        let context = self.record("bpf_iter__task", STRUCT);
        let context_id = self.id("bpf_iter__task", STRUCT);
        let pid_int = self.pid_int();
        let comm_array = self.comm_array();
        let (strings_len, types_len) = (self.strings_len, self.types_len);
        let members = |record: Record, field: usize, value: u32| {
            move |b: &mut Vec<u8>| {
                for i in 0..record.vlen as usize {
                    put32(b, record.at + 12 + 12 * i + field, value);
                }
            }
        };
        assert_eq!(
            self.records[self.id("bpf_iter_task", FUNC) as usize].kind,
            FUNC
        );
        vec![
            ("empty", Vec::new()),
            ("one-byte", self.bytes[..1].to_vec()),
            ("header-cut-short", self.bytes[..HEADER - 1].to_vec()),
            ("header-only", self.bytes[..HEADER].to_vec()),
            ("cut-in-types", self.bytes[..HEADER + 1000].to_vec()),
            ("cut-in-half", self.bytes[..len / 2].to_vec()),
            ("cut-in-strings", self.bytes[..len - 100].to_vec()),
            (
                "magic-zero",
                self.mutated(|b| b[..2].copy_from_slice(&[0, 0])),
            ),
            (
                "magic-big-endian",
                self.mutated(|b| b[..2].copy_from_slice(&[0xeb, 0x9f])),
            ),
            ("version-9", self.mutated(|b| b[2] = 9)),
            ("flags-set", self.mutated(|b| b[3] = 1)),
            ("header-length-8", self.mutated(|b| put32(b, 4, 8))),
            (
                "header-length-huge",
                self.mutated(|b| put32(b, 4, 0xffff_fff0)),
            ),
            (
                "type-offset-past-end",
                self.mutated(|b| put32(b, 8, 0x7fff_ffff)),
            ),
            (
                "type-length-past-end",
                self.mutated(|b| put32(b, 12, u32::MAX)),
            ),
            (
                "string-offset-past-end",
                self.mutated(|b| put32(b, 16, 0xffff_ff00)),
            ),
            (
                "string-length-past-end",
                self.mutated(|b| put32(b, 20, strings_len + 1)),
            ),
            ("string-length-zero", self.mutated(|b| put32(b, 20, 0))),
            ("strings-overlap-types", self.mutated(|b| put32(b, 16, 100))),
            (
                "types-overlap-strings",
                self.mutated(|b| put32(b, 12, types_len + 64)),
            ),
            (
                "strings-start-without-nul",
                self.mutated(|b| b[self.strings_at] = b'x'),
            ),
            (
                "strings-end-without-nul",
                self.mutated(|b| b[self.strings_at + strings_len as usize - 1] = b'x'),
            ),
            (
                "task-struct-name-out-of-range",
                self.mutated(|b| put32(b, task.at, strings_len + 5)),
            ),
            (
                "task-struct-kind-unknown",
                self.mutated(|b| put32(b, task.at + 4, 31 << 24)),
            ),
            (
                "task-struct-vlen-huge",
                self.mutated(|b| put32(b, task.at + 4, (STRUCT << 24) | 0xffff)),
            ),
            (
                "task-struct-member-types-out-of-range",
                self.mutated(members(task, 4, 0x7fff_fff0)),
            ),
            (
                "task-struct-member-offsets-huge",
                self.mutated(members(task, 8, 0xffff_fff0)),
            ),
            (
                "task-struct-member-names-out-of-range",
                self.mutated(members(task, 0, 0xffff_fff0)),
            ),
            (
                "iter-context-name-out-of-range",
                self.mutated(|b| put32(b, context.at, 0x7fff_ffff)),
            ),
            (
                "iter-context-members-point-at-itself",
                self.mutated(members(context, 4, context_id)),
            ),
            (
                "iter-context-without-members",
                self.mutated(|b| put32(b, context.at + 4, STRUCT << 24)),
            ),
            (
                "iter-context-is-a-union",
                self.mutated(|b| put32(b, context.at + 4, (UNION << 24) | context.vlen)),
            ),
            (
                "pid-type-is-a-typedef-of-itself",
                self.mutated(|b| {
                    put32(b, pid_int.at + 4, TYPEDEF << 24);
                    let own_id = self
                        .records
                        .iter()
                        .position(|r| r.at == pid_int.at)
                        .unwrap() as u32;
                    put32(b, pid_int.at + 8, own_id);
                }),
            ),
            (
                "pid-int-of-200-bits",
                self.mutated(|b| put32(b, pid_int.at + 12, (1 << 24) | 200)),
            ),
            (
                // struct btf_array's nelems, after the 12-byte common part and two type ids.
                "task-struct-comm-length-huge",
                self.mutated(|b| put32(b, comm_array.at + 20, u32::MAX)),
            ),
            ("magic-then-zeros", {
                let mut b = self.bytes[..8].to_vec();
                b.resize(4096, 0);
                b
            }),
            ("pseudo-random-bytes", pseudo_random(4096)),
            ("text", b"this is a text file, not BTF\n".to_vec()),
        ]
    }
}

/// Deterministic noise (xorshift), so the snapshot of its diagnostic is stable.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Broken xz containers: (name, bytes) from the compressed fixture.
pub fn xz_variants(compressed: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut garbage = b"\xfd7zXZ\x00".to_vec();
    garbage.extend(pseudo_random(200));
    vec![
        ("xz-cut-short", compressed[..5000].to_vec()),
        ("xz-header-then-noise", garbage),
    ]
}
