//! The verifier-walk model: direct loads the kernel accepts, and union members it would see
//! through a pointer and refuse (found on the live kernel: `task.restart_block.nanosleep.type`).

use crate::common;

use bpfq_kernel::{Btf, Kind, TypeId};

/// Byte offset and type of a dotted member path from `root`.
fn path(btf: &Btf, root: TypeId, dotted: &str) -> (u32, TypeId) {
    let mut offset = 0;
    let mut id = root;
    for name in dotted.split('.') {
        let member = btf
            .member(id, name)
            .unwrap()
            .unwrap_or_else(|| panic!("no member {name}"));
        offset += member.bit_offset / 8;
        id = btf.resolve(member.type_id).unwrap();
    }
    (offset, id)
}

#[test]
fn union_members_behind_a_pointer_need_a_probe_read() {
    for version in ["6.18", "6.1"] {
        let btf = common::fixture(version);
        let task = btf.find(Kind::Struct, "task_struct").unwrap();
        let (nanosleep_type, _) = path(btf, task, "restart_block.nanosleep.type");
        assert!(
            !btf.direct_load_allowed(task, nanosleep_type, 4).unwrap(),
            "{version}: futex.uaddr shadows nanosleep.type"
        );
        let (uaddr, _) = path(btf, task, "restart_block.futex.uaddr");
        assert!(
            btf.direct_load_allowed(task, uaddr, 8).unwrap(),
            "{version}: the pointer itself"
        );
        assert!(
            !btf.direct_load_allowed(task, uaddr, 4).unwrap(),
            "{version}: half a pointer"
        );
        let (val, _) = path(btf, task, "restart_block.futex.val");
        assert!(btf.direct_load_allowed(task, val, 4).unwrap(), "{version}");
    }
}

#[test]
fn ordinary_fields_and_scalar_unions_load_directly() {
    let btf = common::fixture("6.18");
    let task = btf.find(Kind::Struct, "task_struct").unwrap();
    for (field, size) in [("pid", 4), ("tgid", 4), ("real_parent", 8), ("prio", 4)] {
        let (offset, _) = path(btf, task, field);
        assert!(
            btf.direct_load_allowed(task, offset, size).unwrap(),
            "{field}"
        );
    }
    let (comm, _) = path(btf, task, "comm");
    assert!(btf.direct_load_allowed(task, comm, 8).unwrap());
    assert!(btf.direct_load_allowed(task, comm + 8, 8).unwrap());
    assert!(
        !btf.direct_load_allowed(task, comm + 12, 8).unwrap(),
        "straddles the end of comm"
    );
    // sock_common: skc_daddr sits in a union whose first member is the u64 skc_addrpair.
    let sock = btf.find(Kind::Struct, "sock_common").unwrap();
    let (daddr, _) = path(btf, sock, "skc_daddr");
    let (saddr, _) = path(btf, sock, "skc_rcv_saddr");
    assert!(btf.direct_load_allowed(sock, daddr, 4).unwrap());
    assert!(btf.direct_load_allowed(sock, saddr, 4).unwrap());
    // A bitfield read from its containing unit.
    let bit = btf.member(task, "sched_reset_on_fork").unwrap().unwrap();
    assert!(btf
        .direct_load_allowed(task, bit.bit_offset / 8 / 4 * 4, 4)
        .unwrap());
}
