//! BTF access check: whether the kernel verifier accepts a direct load of `size` bytes at
//! `offset` inside a struct reached through a BTF pointer. It follows the verifier's own walk:
//! at each level the FIRST member containing the offset is taken (so a union is seen through its
//! first matching member); a pointer member only allows an 8-byte load of the whole pointer; a
//! scalar member must contain the whole access; padding is refused. When this says no, a load
//! must go through `bpf_probe_read_kernel` instead.

use super::{Btf, BtfError, BtfType, TypeId};

/// Nesting bound: kernel types are far shallower; a loop in malformed BTF stops here.
const MAX_DEPTH: u32 = 32;

impl Btf {
    /// Whether a direct `size`-byte load at byte `offset` of struct/union `id` passes the
    /// verifier's BTF walk.
    pub fn direct_load_allowed(
        &self,
        id: TypeId,
        offset: u32,
        size: u32,
    ) -> Result<bool, BtfError> {
        let mut id = self.resolve(id)?;
        let mut off = offset;
        for _ in 0..MAX_DEPTH {
            match self.get(id)? {
                BtfType::Struct { size: total, .. } | BtfType::Union { size: total, .. } => {
                    if off + size > total {
                        return Ok(false);
                    }
                }
                _ => return Ok(false),
            }
            let members = self.raw_layout(id)?;
            let is_union = matches!(self.get(id)?, BtfType::Union { .. });
            let mut next = None;
            for (index, (_, member)) in members.iter().enumerate() {
                let moff = member.bit_offset / 8;
                if let Some(bits) = member.bitfield_size {
                    // A load of whole bytes that covers the bitfield is a scalar read.
                    let end = (member.bit_offset + bits).div_ceil(8);
                    if off <= moff && end <= off + size {
                        return Ok(true);
                    }
                    continue;
                }
                if off < moff {
                    continue;
                }
                // In a struct a later member that starts at or before `off` rules this one out
                // without computing its size (the walk's cost is in sizes).
                if !is_union
                    && members.get(index + 1).is_some_and(|(_, m)| {
                        m.bitfield_size.is_none()
                            && m.bit_offset / 8 <= off
                            && m.bit_offset / 8 > moff
                    })
                {
                    continue;
                }
                let member_type = self.resolve(member.type_id)?;
                let member_size = self.size_of(member_type)?;
                if off >= moff + member_size {
                    continue;
                }
                next = Some((member_type, off - moff));
                break;
            }
            let Some((mut member_type, mut rel)) = next else {
                return Ok(false);
            };
            let member_size = self.size_of(member_type)?;
            // Arrays are linearised to their innermost element: structs and pointers are walked
            // per element, scalars may be read anywhere inside the whole array.
            while let BtfType::Array { elem, .. } = self.get(member_type)? {
                // Linux 5.10's walk does not look through a typedef of an array element
                // (`atomic_long_t count[4]`: "Type 'atomic_long_t' is not a struct"), so such a
                // load is read with a probe on every kernel.
                let named = matches!(self.get(elem)?, BtfType::Typedef { .. });
                let elem = self.resolve(elem)?;
                if named
                    && matches!(
                        self.get(elem)?,
                        BtfType::Struct { .. } | BtfType::Union { .. }
                    )
                {
                    return Ok(false);
                }
                if !matches!(self.get(elem)?, BtfType::Array { .. }) {
                    let elem_size = self.size_of(elem)?;
                    if elem_size == 0 {
                        return Ok(false);
                    }
                    if matches!(
                        self.get(elem)?,
                        BtfType::Struct { .. } | BtfType::Union { .. } | BtfType::Ptr { .. }
                    ) {
                        rel %= elem_size;
                    }
                }
                member_type = elem;
            }
            match self.get(member_type)? {
                BtfType::Struct { .. } | BtfType::Union { .. } => {
                    id = member_type;
                    off = rel;
                }
                BtfType::Ptr { .. } => return Ok(rel == 0 && size == 8),
                _ => return Ok(rel + size <= member_size),
            }
        }
        Ok(false)
    }
}
