//! Flattened members: anonymous structs/unions are merged into their parent at absolute offsets; listings are snapshotted for review.

use crate::common;

use std::fmt::Write;

use bpfq_kernel::{type_name, Btf, Kind};

/// One line per flattened member: byte offset, bit position for bitfields, name, C type, size.
fn listing(btf: &Btf, struct_name: &str) -> String {
    let id = btf
        .find(Kind::Struct, struct_name)
        .unwrap_or_else(|| panic!("struct {struct_name} exists"));
    let mut text = format!("struct {struct_name} (size {})\n", btf.size_of(id).unwrap());
    for member in btf.members(id).unwrap() {
        let place = match member.bitfield_size {
            Some(bits) => format!(
                "{:>5}.{}:{bits}",
                member.bit_offset / 8,
                member.bit_offset % 8
            ),
            None => format!("{:>5}    ", member.bit_offset / 8),
        };
        let size = btf
            .size_of(member.type_id)
            .map_or("-".to_string(), |size| size.to_string());
        writeln!(
            text,
            "{place}  {:<28} {} (size {size})",
            member.name,
            type_name(btf, member.type_id)
        )
        .unwrap();
    }
    text
}

#[test]
fn iterator_contexts_flatten_their_anonymous_unions() {
    let btf = common::fixture("6.18");
    let ctx = btf.find(Kind::Struct, "bpf_iter__task").unwrap();
    assert_eq!(
        btf.raw_members(ctx)
            .unwrap()
            .iter()
            .map(|m| m.name)
            .collect::<Vec<_>>(),
        ["", ""]
    );
    let task = btf.member(ctx, "task").unwrap().expect("task member");
    assert_eq!(task.bit_offset, 64);
    assert_eq!(type_name(btf, task.type_id), "struct task_struct *");
    assert_eq!(btf.member(ctx, "meta").unwrap().unwrap().bit_offset, 0);
    insta::assert_snapshot!("bpf_iter__task_vma", listing(btf, "bpf_iter__task_vma"));
}

#[test]
fn sock_common_flattens_address_pairs() {
    let btf = common::fixture("6.18");
    let id = btf.find(Kind::Struct, "sock_common").unwrap();
    let daddr = btf
        .member(id, "skc_daddr")
        .unwrap()
        .expect("skc_daddr is reachable through anonymous unions");
    let rcv_saddr = btf.member(id, "skc_rcv_saddr").unwrap().unwrap();
    assert_eq!((daddr.bit_offset / 8, rcv_saddr.bit_offset / 8), (0, 4));
    assert!(btf.member(id, "skc_addrpair").unwrap().is_some());
    // Flattened members are the raw named members plus the named members of anonymous ones.
    let raw = btf.raw_members(id).unwrap();
    assert!(raw.iter().any(|m| m.name.is_empty()));
    assert!(btf.members(id).unwrap().len() > raw.iter().filter(|m| !m.name.is_empty()).count());
    insta::assert_snapshot!("sock_common", listing(btf, "sock_common"));
}

#[test]
fn task_struct_members_include_bitfields_and_anonymous_parts() {
    let btf = common::fixture("6.18");
    let id = btf.find(Kind::Struct, "task_struct").unwrap();
    let members = btf.members(id).unwrap();
    assert!(
        members.iter().all(|m| !m.name.is_empty()),
        "anonymous members remain"
    );
    let comm = btf.member(id, "comm").unwrap().unwrap();
    assert_eq!(type_name(btf, comm.type_id), "char[16]");
    let reset = btf.member(id, "sched_reset_on_fork").unwrap().unwrap();
    assert_eq!(reset.bitfield_size, Some(1));
    assert!(btf.member(id, "__state").unwrap().is_some());
    assert!(btf.member(id, "no_such_member").unwrap().is_none());
    // Offsets never run past the struct.
    let size_bits = btf.size_of(id).unwrap() * 8;
    assert!(members.iter().all(|m| m.bit_offset < size_bits));
    // task_struct has no anonymous members on 6.18, so flattening must not change it.
    assert_eq!(members, btf.raw_members(id).unwrap());
}

#[test]
fn linux_5_10_task_struct_still_has_state() {
    let btf = common::fixture("5.10");
    let id = btf.find(Kind::Struct, "task_struct").unwrap();
    assert!(btf.member(id, "state").unwrap().is_some());
    assert!(btf.member(id, "__state").unwrap().is_none());
}

#[test]
fn members_of_a_non_struct_is_an_error() {
    let btf = common::fixture("6.18");
    let int = btf.find(Kind::Int, "int").unwrap();
    let error = btf.members(int).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("BTF type {int} is Int, not a struct or union")
    );
}
