//! Malformed BTF: truncations, bad magic, bad offsets, huge vlen, loops and random byte flips give errors, never panics or hangs.

use crate::common;

use bpfq_kernel::{discover, meta_layout, type_name, Btf, BtfError, Kind, TypeId};

const TYPES_KEPT: u32 = 60;
const STRINGS_KEPT: usize = 4096;

fn le32(bytes: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap())
}

fn put32(bytes: &mut [u8], pos: usize, value: u32) {
    bytes[pos..pos + 4].copy_from_slice(&value.to_le_bytes());
}

/// A small, valid BTF blob: the 6.18 fixture's first types and the start of its string section.
struct Small {
    bytes: Vec<u8>,
    /// Start of each type record in `bytes`, by id (entry 0 unused).
    record_starts: Vec<usize>,
}

fn small_blob() -> Small {
    let full = common::fixture("6.18").bytes();
    let header_len = le32(full, 4) as usize;
    let types_start = header_len + le32(full, 8) as usize;
    let strings_start = header_len + le32(full, 16) as usize;
    // Record starts found with our own reader, then checked against the reader on the small blob.
    let sizes_btf = common::fixture("6.18");
    let mut record_starts = vec![0];
    let mut pos = types_start;
    for id in 1..=TYPES_KEPT {
        record_starts.push(24 + pos - types_start);
        pos += record_len(sizes_btf, TypeId(id));
    }
    let types = &full[types_start..pos];
    // Cut after a name's NUL: a string section ends with one (the reader refuses it otherwise).
    let kept = &full[strings_start..strings_start + STRINGS_KEPT];
    let strings = &kept[..=kept.iter().rposition(|&b| b == 0).expect("a NUL")];
    let mut bytes = full[..24].to_vec();
    put32(&mut bytes, 4, 24);
    put32(&mut bytes, 8, 0);
    put32(&mut bytes, 12, types.len() as u32);
    put32(&mut bytes, 16, types.len() as u32);
    put32(&mut bytes, 20, strings.len() as u32);
    bytes.extend_from_slice(types);
    bytes.extend_from_slice(strings);
    Small {
        bytes,
        record_starts,
    }
}

/// Record length from the decoded type (independent of the reader's own length table).
fn record_len(btf: &Btf, id: TypeId) -> usize {
    use bpfq_kernel::BtfType::*;
    12 + match btf.get(id).unwrap() {
        Int { .. } | Var { .. } | DeclTag { .. } => 4,
        Array { .. } => 12,
        Struct { vlen, .. } | Union { vlen, .. } => 12 * vlen as usize,
        Enum { values, .. } => {
            values.len()
                * if btf.kind_of(id).unwrap() == Some(Kind::Enum64) {
                    12
                } else {
                    8
                }
        }
        FuncProto { params, .. } => 8 * params.len(),
        Datasec { .. } => panic!("no datasec among the first types"),
        _ => 0,
    }
}

/// Runs every public query over a blob; returns how many of them reported an error.
fn exercise(bytes: Vec<u8>) -> usize {
    let btf = match Btf::from_bytes(bytes) {
        Ok(btf) => btf,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return 1;
        }
    };
    let mut errors = usize::from(btf.validate().is_err());
    for id in (0..btf.type_count() + 2).map(TypeId) {
        let _ = btf.name_of(id);
        let _ = type_name(&btf, id);
        for failed in [
            btf.get(id).is_err(),
            btf.resolve(id).is_err(),
            btf.size_of(id).is_err(),
            btf.raw_members(id).is_err(),
            btf.members(id).is_err(),
        ] {
            errors += usize::from(failed);
        }
    }
    let _ = btf.find_many(&[(Kind::Struct, "task_struct"), (Kind::Int, "int")]);
    let _ = btf.find_prefixed(Kind::Typedef, "__");
    errors += usize::from(discover(&btf).is_err());
    errors += usize::from(meta_layout(&btf).is_err());
    errors
}

#[test]
fn the_small_blob_is_valid() {
    let small = small_blob();
    let btf = Btf::from_bytes(small.bytes.clone()).unwrap();
    assert_eq!(btf.validate(), Ok(()));
    assert_eq!(btf.type_count(), TYPES_KEPT + 1);
    for id in 1..=TYPES_KEPT {
        btf.get(TypeId(id))
            .unwrap_or_else(|error| panic!("[{id}]: {error}"));
    }
}

#[test]
fn every_truncation_is_an_error() {
    let small = small_blob();
    for len in 0..small.bytes.len() {
        assert!(
            exercise(small.bytes[..len].to_vec()) > 0,
            "truncated to {len} bytes"
        );
    }
}

#[test]
fn truncated_sections_with_a_consistent_header_are_errors() {
    let small = small_blob();
    let types_len = le32(&small.bytes, 12) as usize;
    for cut in 1..types_len {
        let mut bytes = small.bytes.clone();
        bytes.drain(24 + types_len - cut..24 + types_len);
        put32(&mut bytes, 12, (types_len - cut) as u32);
        put32(&mut bytes, 16, (types_len - cut) as u32);
        let btf = Btf::from_bytes(bytes.clone()).unwrap();
        let cut_inside_record = !small.record_starts.contains(&(24 + types_len - cut));
        assert_eq!(
            btf.validate().is_err(),
            cut_inside_record,
            "types cut by {cut}"
        );
        let _ = exercise(bytes);
    }
    let strings_start = 24 + types_len;
    let mut bytes = small.bytes.clone();
    bytes.truncate(strings_start + 64);
    put32(&mut bytes, 20, 64);
    assert!(
        exercise(bytes) > 0,
        "names past a cut string section are errors"
    );
}

#[test]
fn wrong_magic_and_version() {
    let small = small_blob();
    let mut bytes = small.bytes.clone();
    bytes[0] = 0x00;
    assert_eq!(
        Btf::from_bytes(bytes).unwrap_err(),
        BtfError::BadMagic(0xeb00)
    );
    let mut bytes = small.bytes.clone();
    bytes[2] = 7;
    assert_eq!(
        Btf::from_bytes(bytes).unwrap_err(),
        BtfError::UnsupportedVersion(7)
    );
}

#[test]
fn string_offset_out_of_range() {
    let small = small_blob();
    let mut bytes = small.bytes.clone();
    put32(&mut bytes, small.record_starts[1], 0x00ff_ffff);
    let btf = Btf::from_bytes(bytes).unwrap();
    assert_eq!(
        btf.get(TypeId(1)).unwrap_err(),
        BtfError::StringOffsetOutOfRange {
            offset: 0x00ff_ffff,
            len: le32(&small.bytes, 20)
        }
    );
    assert_eq!(btf.name_of(TypeId(1)), None);
    assert_eq!(type_name(&btf, TypeId(1)), "?");
}

#[test]
fn type_id_out_of_range() {
    let small = small_blob();
    let btf = Btf::from_bytes(small.bytes.clone()).unwrap();
    let past = TypeId(TYPES_KEPT + 1);
    assert_eq!(
        btf.get(past).unwrap_err(),
        BtfError::TypeIdOutOfRange {
            id: past,
            count: TYPES_KEPT + 1
        }
    );
    assert_eq!(
        btf.get(past).unwrap_err().to_string(),
        "BTF type id [61] out of range (this BTF has 61 ids)"
    );
    // A const (id 2 in the fixture) pointing past the end fails when followed.
    let mut bytes = small.bytes.clone();
    let btf_full = common::fixture("6.18");
    assert_eq!(btf_full.kind_of(TypeId(2)).unwrap(), Some(Kind::Const));
    put32(&mut bytes, small.record_starts[2] + 8, 5_000_000);
    let btf = Btf::from_bytes(bytes).unwrap();
    assert!(matches!(
        btf.resolve(TypeId(2)),
        Err(BtfError::TypeIdOutOfRange { .. })
    ));
    assert!(btf.size_of(TypeId(2)).is_err());
}

#[test]
fn huge_vlen_is_a_truncated_type() {
    let small = small_blob();
    let btf_full = common::fixture("6.18");
    let has_vlen = |id: u32| {
        matches!(
            btf_full.kind_of(TypeId(id)).unwrap(),
            Some(Kind::Struct | Kind::Union | Kind::Enum | Kind::FuncProto)
        )
    };
    let with_members = (1..=TYPES_KEPT)
        .find(|&id| has_vlen(id))
        .expect("a type with members among the first");
    let mut bytes = small.bytes.clone();
    let info_pos = small.record_starts[with_members as usize] + 4;
    let info = le32(&bytes, info_pos);
    put32(&mut bytes, info_pos, info | 0xffff);
    let btf = Btf::from_bytes(bytes).unwrap();
    assert!(
        matches!(btf.validate(), Err(BtfError::TruncatedType { id, .. }) if id == with_members)
    );
    assert_eq!(
        btf.type_count(),
        with_members,
        "only the ids before the bad record are indexed"
    );
    assert!(btf.get(TypeId(with_members)).is_err());
    assert!(btf.get(TypeId(with_members - 1)).is_ok());
}

#[test]
fn typedef_loop_is_an_error() {
    let small = small_blob();
    let btf_full = common::fixture("6.18");
    let typedef = (1..=TYPES_KEPT)
        .find(|&id| btf_full.kind_of(TypeId(id)).unwrap() == Some(Kind::Typedef))
        .unwrap();
    let mut bytes = small.bytes.clone();
    put32(
        &mut bytes,
        small.record_starts[typedef as usize] + 8,
        typedef,
    );
    let btf = Btf::from_bytes(bytes).unwrap();
    assert_eq!(
        btf.resolve(TypeId(typedef)),
        Err(BtfError::TypeLoop {
            id: TypeId(typedef)
        })
    );
    assert!(btf.size_of(TypeId(typedef)).is_err());
    assert_eq!(
        type_name(&btf, TypeId(typedef)),
        btf.name_of(TypeId(typedef)).unwrap()
    );
}

#[test]
fn bad_kind_is_an_error() {
    let small = small_blob();
    let mut bytes = small.bytes.clone();
    let info_pos = small.record_starts[3] + 4;
    put32(&mut bytes, info_pos, 25 << 24);
    let btf = Btf::from_bytes(bytes).unwrap();
    assert_eq!(btf.validate(), Err(BtfError::BadKind { id: 3, kind: 25 }));
}

#[test]
fn corrupt_xz_and_missing_files_are_errors() {
    let compressed = std::fs::read(common::fixture_path("6.18")).unwrap();
    assert!(matches!(
        Btf::from_bytes(compressed[..4096].to_vec()),
        Err(BtfError::Decompress(_))
    ));
    let missing = Btf::from_file(std::path::Path::new("/nonexistent/vmlinux")).unwrap_err();
    assert!(matches!(missing, BtfError::Io { .. }));
    assert!(missing
        .to_string()
        .starts_with("cannot read BTF file /nonexistent/vmlinux"));
}

/// xorshift64: deterministic pseudo-random numbers without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let small = small_blob();
    let mut random = XorShift(0x5eed_b7f0_0000_0001);
    let mut erroneous = 0;
    const ROUNDS: usize = 3000;
    for _ in 0..ROUNDS {
        let mut bytes = small.bytes.clone();
        for _ in 0..1 + random.next() % 4 {
            let pos = (random.next() % bytes.len() as u64) as usize;
            bytes[pos] ^= 1 << (random.next() % 8);
        }
        erroneous += usize::from(exercise(bytes) > 0);
    }
    // Many flips only change a name byte or a size; a good share must still be caught.
    assert!(
        erroneous > ROUNDS / 10,
        "only {erroneous} of {ROUNDS} corrupted blobs reported an error"
    );
}

/// The 6.18 fixture with the length of the array `task_struct.comm` (`char[16]`) set to
/// 0xffffffff: its record found by walking the type section with `record_len`.
fn absurd_comm_length() -> (Vec<u8>, TypeId) {
    let btf = common::fixture("6.18");
    let task = btf.find(Kind::Struct, "task_struct").expect("task_struct");
    let comm = btf.member(task, "comm").unwrap().expect("comm").type_id;
    let mut bytes = btf.bytes().to_vec();
    let header_len = le32(&bytes, 4) as usize;
    let mut pos = header_len + le32(&bytes, 8) as usize;
    for id in 1..comm.0 {
        pos += record_len(btf, TypeId(id));
    }
    // struct btf_array { type, index_type, nelems } follows the 12-byte common part.
    assert_eq!(le32(&bytes, pos + 20), 16, "the fixture's comm is char[16]");
    put32(&mut bytes, pos + 20, 0xffff_ffff);
    (bytes, task)
}

#[test]
fn an_array_longer_than_its_struct_is_malformed() {
    let (bytes, task) = absurd_comm_length();
    let btf = Btf::from_bytes(bytes).unwrap();
    let by_name = btf.member(task, "comm").unwrap_err();
    assert!(
        matches!(&by_name, BtfError::MemberOutside { container, member, .. }
            if *container == task && member == "comm"),
        "{by_name:?}"
    );
    assert_eq!(
        by_name.to_string(),
        "member `comm` (type [334]) of `task_struct` [114] ends at 4294969047 bytes, past the struct's 3264 bytes (an array length or offset is wrong)"
    );
    assert_eq!(btf.members(task).unwrap_err(), by_name);
}
