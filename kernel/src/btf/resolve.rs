//! BTF resolution stage: strips qualifiers and typedefs and computes sizes, with bounded depth so loops in malformed BTF become errors.

use super::{Btf, BtfError, BtfType, TypeId};

/// Deepest chain of typedefs/qualifiers or nested arrays followed before giving up (real kernels need < 10).
pub(crate) const MAX_DEPTH: usize = 64;

impl Btf {
    /// Follows typedef/const/volatile/restrict/type_tag until another kind (or void) is reached.
    pub fn resolve(&self, id: TypeId) -> Result<TypeId, BtfError> {
        let mut current = id;
        for _ in 0..MAX_DEPTH {
            match self.get(current)? {
                BtfType::Typedef { target, .. }
                | BtfType::Const { target }
                | BtfType::Volatile { target }
                | BtfType::Restrict { target }
                | BtfType::TypeTag { target, .. } => current = target,
                _ => return Ok(current),
            }
        }
        Err(BtfError::TypeLoop { id })
    }

    /// Size in bytes of a type after resolving; arrays are element size times length, pointers 8.
    pub fn size_of(&self, id: TypeId) -> Result<u32, BtfError> {
        let mut multiplier: u32 = 1;
        let mut current = id;
        for _ in 0..MAX_DEPTH {
            let resolved = self.resolve(current)?;
            let ty = self.get(resolved)?;
            let element_size = match ty {
                BtfType::Array { elem, len, .. } => {
                    multiplier = multiplier
                        .checked_mul(len)
                        .ok_or(BtfError::SizeOverflow { id })?;
                    current = elem;
                    continue;
                }
                BtfType::Ptr { .. } => 8,
                BtfType::Int { size, .. }
                | BtfType::Struct { size, .. }
                | BtfType::Union { size, .. }
                | BtfType::Enum { size, .. }
                | BtfType::Float { size, .. } => size,
                other => {
                    return Err(BtfError::NoSize {
                        id: resolved,
                        kind: other.kind(),
                    })
                }
            };
            return element_size
                .checked_mul(multiplier)
                .ok_or(BtfError::SizeOverflow { id });
        }
        Err(BtfError::TypeLoop { id })
    }
}
