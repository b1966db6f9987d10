//! C-like type names and sizes for common kernel types of the 6.18 fixture.

use crate::common;

use bpfq_kernel::{type_name, Btf, BtfType, Kind, TypeId};

fn member_type(btf: &Btf, struct_name: &str, member: &str) -> TypeId {
    let id = btf.find(Kind::Struct, struct_name).unwrap();
    btf.member(id, member)
        .unwrap()
        .unwrap_or_else(|| panic!("{struct_name}.{member}"))
        .type_id
}

#[test]
fn renders_like_c() {
    let btf = common::fixture("6.18");
    let cases = [
        (("task_struct", "comm"), "char[16]"),
        (("task_struct", "real_parent"), "struct task_struct *"),
        (("task_struct", "pid"), "pid_t"),
        (("task_struct", "__state"), "unsigned int"),
        (("kernel_param", "name"), "const char *"),
        (
            ("file_operations", "read"),
            "ssize_t (*)(struct file *, char *, size_t, loff_t *)",
        ),
        (("sock_common", "skc_state"), "volatile unsigned char"),
    ];
    for ((struct_name, member), expected) in cases {
        assert_eq!(
            type_name(btf, member_type(btf, struct_name, member)),
            expected,
            "{struct_name}.{member}"
        );
    }
    assert_eq!(type_name(btf, TypeId(0)), "void");
    assert_eq!(
        type_name(btf, btf.find(Kind::Enum, "sock_type").unwrap()),
        "enum sock_type"
    );
    assert_eq!(
        type_name(btf, btf.find(Kind::Union, "sigval").unwrap()),
        "union sigval"
    );
}

/// Hand-built BTF: [1] INT 'int', [2] ARRAY int[3], [3] ARRAY of [2] with 2 elements,
/// [4] CONST int, [5] PTR to [4] (kernel BTF has no arrays of arrays to test against).
fn nested_array_btf() -> Btf {
    let strings = b"\0int\0";
    let mut types = Vec::new();
    let mut record = |words: &[u32]| {
        words
            .iter()
            .for_each(|word| types.extend_from_slice(&word.to_le_bytes()))
    };
    record(&[1, 1 << 24, 4, (1 << 24) | 32]);
    record(&[0, 3 << 24, 0, 1, 1, 3]);
    record(&[0, 3 << 24, 0, 2, 1, 2]);
    record(&[0, 10 << 24, 1]);
    record(&[0, 2 << 24, 4]);
    let mut bytes = vec![0x9f, 0xeb, 1, 0];
    for word in [
        24,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.extend_from_slice(&types);
    bytes.extend_from_slice(strings);
    Btf::from_bytes(bytes).unwrap()
}

#[test]
fn nested_arrays_list_dimensions_outermost_first() {
    let btf = nested_array_btf();
    assert_eq!(btf.validate(), Ok(()));
    assert_eq!(type_name(&btf, TypeId(2)), "int[3]");
    assert_eq!(type_name(&btf, TypeId(3)), "int[2][3]");
    assert_eq!(btf.size_of(TypeId(3)).unwrap(), 24);
    assert_eq!(type_name(&btf, TypeId(5)), "const int *");
    assert_eq!(btf.size_of(TypeId(5)).unwrap(), 8);
    assert_eq!(
        btf.get(TypeId(1)).unwrap(),
        BtfType::Int {
            name: "int",
            size: 4,
            bits: 32,
            bit_offset: 0,
            signed: true,
            is_char: false,
            is_bool: false
        }
    );
}

#[test]
fn sizes_follow_typedefs_and_arrays() {
    let btf = common::fixture("6.18");
    assert_eq!(
        btf.size_of(member_type(btf, "task_struct", "comm"))
            .unwrap(),
        16
    );
    assert_eq!(
        btf.size_of(member_type(btf, "task_struct", "pid")).unwrap(),
        4
    );
    assert_eq!(
        btf.size_of(member_type(btf, "task_struct", "real_parent"))
            .unwrap(),
        8
    );
    let task = btf.find(Kind::Struct, "task_struct").unwrap();
    let BtfType::Struct { size, .. } = btf.get(task).unwrap() else {
        panic!("struct")
    };
    assert_eq!(btf.size_of(task).unwrap(), size);
    let u32_id = btf.find(Kind::Typedef, "u32").unwrap();
    assert_eq!(type_name(btf, u32_id), "u32");
    assert_eq!(btf.size_of(u32_id).unwrap(), 4);
    assert!(matches!(
        btf.get(btf.resolve(u32_id).unwrap()).unwrap(),
        BtfType::Int {
            size: 4,
            signed: false,
            ..
        }
    ));
    assert!(btf.size_of(TypeId(0)).is_err(), "void has no size");
    let func = btf.find(Kind::Func, "bpf_iter_task").unwrap();
    assert!(btf.size_of(func).is_err(), "functions have no size");
}

#[test]
fn find_many_agrees_with_single_finds_and_bpf_ids_are_stable() {
    let btf = common::fixture("6.18");
    let wanted = [
        (Kind::Struct, "task_struct"),
        (Kind::Func, "bpf_iter_task"),
        (Kind::Struct, "no_such_struct"),
        (Kind::Int, "int"),
    ];
    let many = btf.find_many(&wanted);
    let single: Vec<_> = wanted
        .iter()
        .map(|&(kind, name)| btf.find(kind, name))
        .collect();
    assert_eq!(many, single);
    assert_eq!(many[2], None);
    assert_eq!(btf.name_of(many[0].unwrap()), Some("task_struct"));
    // Ids from bpftool's dump of this fixture.
    assert_eq!(many[0], Some(TypeId(114)));
    assert_eq!(
        btf.find(Kind::Struct, "bpf_iter__task"),
        Some(TypeId(14197))
    );
    let prefixed = btf.find_prefixed(Kind::Struct, "bpf_iter__task");
    assert!(prefixed
        .iter()
        .all(|(id, name)| name.starts_with("bpf_iter__task") && btf.name_of(*id) == Some(name)));
    assert!(prefixed.len() >= 3);
}

#[test]
fn from_shared_and_from_bytes_agree() {
    let btf = common::fixture("6.18");
    let shared = Btf::from_shared(Box::new(btf.bytes().to_vec())).unwrap();
    assert_eq!(shared.type_count(), btf.type_count());
    assert_eq!(shared.find(Kind::Struct, "task_struct"), Some(TypeId(114)));
    let compressed = std::fs::read(common::fixture_path("5.10")).unwrap();
    let from_xz = Btf::from_shared(Box::new(compressed)).unwrap();
    assert_eq!(from_xz.type_count(), common::fixture("5.10").type_count());
}
