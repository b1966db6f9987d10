//! Stage `bind` (helper): where a value's BTF layout keeps kernel addresses. Guarantees every
//! pointer member of a struct, union or array, at any depth, and every integer member the
//! quirks say holds an address (`quirks::holds_address`), is listed by the byte offset of its
//! 8 bytes, so an aggregate shown as bytes can hide them like any pointer column.

use super::quirks::holds_address;
use bpfq_kernel::{Btf, BtfError, BtfType, TypeId};

/// Nesting deeper than this is a loop in malformed BTF (a struct cannot hold itself).
const DEPTH_MAX: usize = 64;

/// Byte offsets, ascending, of the pointers inside a value of type `id` (`[0]` for a pointer
/// itself, empty for a value that holds none).
pub fn pointer_slots(btf: &Btf, id: TypeId) -> Result<Vec<u32>, BtfError> {
    let mut walk = Walk {
        btf,
        end: btf.size_of(id)?,
        slots: Vec::new(),
    };
    walk.collect(id, 0, 0)?;
    Ok(walk.done())
}

/// `pointer_slots` of an array of `len` elements of type `elem`.
pub fn array_pointer_slots(btf: &Btf, elem: TypeId, len: u32) -> Result<Vec<u32>, BtfError> {
    let mut walk = Walk {
        btf,
        end: btf.size_of(elem)?.saturating_mul(len),
        slots: Vec::new(),
    };
    walk.array(elem, len, 0, 0)?;
    Ok(walk.done())
}

struct Walk<'b> {
    btf: &'b Btf,
    /// The value's size: slots past it (an array length malformed BTF inflates) are not kept.
    end: u32,
    slots: Vec<u32>,
}

impl Walk<'_> {
    fn done(mut self) -> Vec<u32> {
        self.slots.sort_unstable();
        self.slots.dedup();
        self.slots
    }

    fn collect(&mut self, id: TypeId, at: u32, depth: usize) -> Result<(), BtfError> {
        if depth > DEPTH_MAX {
            return Err(BtfError::TypeLoop { id });
        }
        if at >= self.end {
            return Ok(());
        }
        let id = self.btf.resolve(id)?;
        match self.btf.get(id)? {
            BtfType::Ptr { .. } => self.slots.push(at),
            BtfType::Struct { name, .. } | BtfType::Union { name, .. } => {
                let owner = name.unwrap_or_default();
                for member in self.btf.raw_members(id)? {
                    // A bitfield is an integer; only whole members can be pointers.
                    if member.bitfield_size.is_some() || member.bit_offset % 8 != 0 {
                        continue;
                    }
                    let inner = at.saturating_add(member.bit_offset / 8);
                    if holds_address(owner, member.name)
                        && self.btf.size_of(member.type_id).ok() == Some(8)
                    {
                        self.slots.push(inner);
                    } else {
                        self.collect(member.type_id, inner, depth + 1)?;
                    }
                }
            }
            BtfType::Array { elem, len, .. } => self.array(elem, len, at, depth + 1)?,
            _ => {}
        }
        Ok(())
    }

    fn array(&mut self, elem: TypeId, len: u32, at: u32, depth: usize) -> Result<(), BtfError> {
        let stride = self.btf.size_of(elem)?.max(1);
        for index in 0..len {
            let base = at.saturating_add(index.saturating_mul(stride));
            if base >= self.end {
                break;
            }
            self.collect(elem, base, depth)?;
        }
        Ok(())
    }
}
