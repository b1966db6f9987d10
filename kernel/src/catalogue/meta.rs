//! Iterator meta layout: where `struct bpf_iter_meta` and its `seq`/`seq_num` sit, so generated code can reach the seq_file and object number.

use crate::btf::{Btf, BtfError, BtfType, Kind, TypeId};

/// Byte offsets the compiler needs to reach `ctx->meta->seq` and `ctx->meta->seq_num`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaLayout {
    /// Offset of the `meta` pointer inside every `bpf_iter__<target>` context (0 on all known kernels).
    pub meta_offset: u32,
    /// Offset of `seq` (the `struct seq_file *`) inside `struct bpf_iter_meta`.
    pub seq_offset: u32,
    /// Offset of the u64 `seq_num` inside `struct bpf_iter_meta`.
    pub seq_num_offset: u32,
}

/// Reads the meta layout from BTF (`struct bpf_iter_meta` and the `meta` member of `bpf_iter__task`,
/// or of any other context struct when task is absent).
pub fn meta_layout(btf: &Btf) -> Result<MetaLayout, BtfError> {
    let found = btf.find_many(&[
        (Kind::Struct, "bpf_iter_meta"),
        (Kind::Struct, "bpf_iter__task"),
    ]);
    let meta_struct = found[0].ok_or_else(|| missing("struct bpf_iter_meta"))?;
    let context = match found[1] {
        Some(id) => id,
        None => first_context(btf).ok_or_else(|| missing("struct bpf_iter__<target>"))?,
    };
    Ok(MetaLayout {
        meta_offset: byte_offset(btf, context, "meta")?,
        seq_offset: byte_offset(btf, meta_struct, "seq")?,
        seq_num_offset: byte_offset(btf, meta_struct, "seq_num")?,
    })
}

/// The layout behind a context's `meta` member (`struct bpf_iter_meta *` at `meta_offset`),
/// found without a name search.
pub(super) fn from_member(
    btf: &Btf,
    meta_offset: u32,
    type_id: TypeId,
) -> Result<Option<MetaLayout>, BtfError> {
    let BtfType::Ptr { target } = btf.get(btf.resolve(type_id)?)? else {
        return Ok(None);
    };
    let meta_struct = btf.resolve(target)?;
    Ok(Some(MetaLayout {
        meta_offset,
        seq_offset: byte_offset(btf, meta_struct, "seq")?,
        seq_num_offset: byte_offset(btf, meta_struct, "seq_num")?,
    }))
}

fn first_context(btf: &Btf) -> Option<TypeId> {
    btf.find_prefixed(Kind::Struct, "bpf_iter__")
        .first()
        .map(|&(id, _)| id)
}

fn byte_offset(btf: &Btf, id: TypeId, name: &str) -> Result<u32, BtfError> {
    let member = btf
        .member(id, name)?
        .ok_or_else(|| missing(&format!("member {name} of BTF type {id}")))?;
    Ok(member.bit_offset / 8)
}

fn missing(what: &str) -> BtfError {
    BtfError::NotFound(what.to_string())
}
