//! BTF member stage: lists struct/union members, raw or with anonymous struct/union members flattened at absolute bit offsets.

use super::resolve::MAX_DEPTH;
use super::{Btf, BtfError, BtfType, Kind, TypeId};

/// One member of a struct or union.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// Empty for anonymous members (only seen in `raw_members`).
    pub name: &'a str,
    pub type_id: TypeId,
    /// Bit offset from the start of the outermost struct asked about.
    pub bit_offset: u32,
    /// `Some(bits)` for bitfields.
    pub bitfield_size: Option<u32>,
}

impl Btf {
    /// Members exactly as recorded in the struct/union behind `id` (after resolve): anonymous ones
    /// included, offsets relative to that struct, bitfield size only from the kind_flag encoding.
    pub fn raw_members(&self, id: TypeId) -> Result<Vec<Member<'_>>, BtfError> {
        self.raw_layout(id)?
            .into_iter()
            .map(|(name_off, member)| {
                Ok(Member {
                    name: self.str_at(name_off)?,
                    ..member
                })
            })
            .collect()
    }

    /// `raw_members` without decoding names: (name offset, member with an empty name). For walks
    /// that look at types and offsets only.
    pub(crate) fn raw_layout(&self, id: TypeId) -> Result<Vec<(u32, Member<'static>)>, BtfError> {
        let resolved = self.resolve(id)?;
        let ty = self.get(resolved)?;
        if !matches!(ty, BtfType::Struct { .. } | BtfType::Union { .. }) {
            return Err(BtfError::NotComposite {
                id: resolved,
                kind: ty.kind(),
            });
        }
        let record = self.record(resolved)?;
        let truncated = || BtfError::TruncatedType {
            id: resolved.0,
            offset: record.pos as u32,
        };
        let mut members = Vec::with_capacity(record.info.vlen);
        for n in 0..record.info.vlen {
            let pos = Btf::trailing_pos(&record, n, 12);
            let name_off = self.u32_at(pos).ok_or_else(truncated)?;
            let type_id = TypeId(self.u32_at(pos + 4).ok_or_else(truncated)?);
            let offset = self.u32_at(pos + 8).ok_or_else(truncated)?;
            let (bit_offset, bitfield_size) = if record.info.kind_flag {
                let bits = offset >> 24;
                (offset & 0x00ff_ffff, (bits != 0).then_some(bits))
            } else {
                (offset, None)
            };
            members.push((
                name_off,
                Member {
                    name: "",
                    type_id,
                    bit_offset,
                    bitfield_size,
                },
            ));
        }
        Ok(members)
    }

    /// Named members of the struct/union behind `id`, with anonymous struct/union members replaced
    /// (recursively) by their own members at absolute offsets. Old-style bitfields (encoded in the
    /// int type rather than the member) are reported as bitfields too. Unnamed padding is dropped.
    pub fn members(&self, id: TypeId) -> Result<Vec<Member<'_>>, BtfError> {
        let mut flat = Vec::new();
        self.flatten_into(id, 0, 0, &mut flat)?;
        Ok(flat)
    }

    /// The named member `name` among the flattened members of `id`. Compares names in place and
    /// decodes only the member found (the binder asks this once per path step).
    pub fn member(&self, id: TypeId, name: &str) -> Result<Option<Member<'_>>, BtfError> {
        self.find_member(id, name.as_bytes(), 0, 0)
    }

    fn find_member(
        &self,
        id: TypeId,
        name: &[u8],
        base_bits: u32,
        depth: usize,
    ) -> Result<Option<Member<'_>>, BtfError> {
        if depth >= MAX_DEPTH {
            return Err(BtfError::TypeLoop { id });
        }
        let strings = self.string_section();
        let resolved_id = self.resolve(id)?;
        let container_size = self.record(resolved_id)?.size_or_type;
        for (name_off, raw) in self.raw_layout(id)? {
            let bit_offset = base_bits
                .checked_add(raw.bit_offset)
                .ok_or(BtfError::SizeOverflow { id })?;
            let anonymous = strings.get(name_off as usize).is_none_or(|b| *b == 0);
            if anonymous {
                let resolved = self.resolve(raw.type_id)?;
                if matches!(self.kind_of(resolved)?, Some(Kind::Struct | Kind::Union)) {
                    if let Some(found) = self.find_member(resolved, name, bit_offset, depth + 1)? {
                        return Ok(Some(found));
                    }
                }
                continue;
            }
            if super::lookup::str_is(strings, name_off, name) {
                self.check_fits(resolved_id, container_size, name_off, &raw)?;
                let member = Member {
                    name: self.str_at(name_off)?,
                    bit_offset,
                    ..raw
                };
                return Ok(Some(self.with_int_bitfield(member)?));
            }
        }
        Ok(None)
    }

    /// Reports an old-style bitfield (encoded in the int type, not the member) as a bitfield.
    fn with_int_bitfield<'a>(&self, mut member: Member<'a>) -> Result<Member<'a>, BtfError> {
        if member.bitfield_size.is_none() {
            let resolved = self.resolve(member.type_id)?;
            if let BtfType::Int {
                size,
                bits,
                bit_offset: int_offset,
                ..
            } = self.get(resolved)?
            {
                if int_offset != 0 || bits != size.saturating_mul(8) {
                    member.bit_offset = member.bit_offset.saturating_add(int_offset);
                    member.bitfield_size = Some(bits);
                }
            }
        }
        Ok(member)
    }

    /// A member must lie inside its struct: an array length or offset that says otherwise
    /// (`char comm[0xffffffff]` in a 9 KB struct) is malformed BTF, refused here before anything
    /// sizes a column, a row or a buffer from it. A member of a type without a size (not valid C)
    /// is left to the caller.
    fn check_fits(
        &self,
        container: TypeId,
        container_size: u32,
        name_off: u32,
        raw: &Member<'_>,
    ) -> Result<(), BtfError> {
        let end_bits = match raw.bitfield_size {
            Some(bits) => u64::from(raw.bit_offset) + u64::from(bits),
            None => match self.size_of(raw.type_id) {
                Ok(size) => u64::from(raw.bit_offset) + u64::from(size) * 8,
                Err(BtfError::NoSize { .. }) => return Ok(()),
                Err(BtfError::SizeOverflow { .. }) => u64::MAX,
                Err(other) => return Err(other),
            },
        };
        if end_bits <= u64::from(container_size) * 8 {
            return Ok(());
        }
        Err(BtfError::MemberOutside {
            container,
            container_name: self.name_of(container).unwrap_or("").to_string(),
            container_size,
            member: self.str_at(name_off).unwrap_or("").to_string(),
            member_type: raw.type_id,
            end_bits,
        })
    }

    fn flatten_into<'a>(
        &'a self,
        id: TypeId,
        base_bits: u32,
        depth: usize,
        flat: &mut Vec<Member<'a>>,
    ) -> Result<(), BtfError> {
        if depth >= MAX_DEPTH {
            return Err(BtfError::TypeLoop { id });
        }
        let resolved_id = self.resolve(id)?;
        let container_size = self.record(resolved_id)?.size_or_type;
        for (name_off, raw) in self.raw_layout(id)? {
            self.check_fits(resolved_id, container_size, name_off, &raw)?;
            let raw = Member {
                name: self.str_at(name_off)?,
                ..raw
            };
            let bit_offset = base_bits
                .checked_add(raw.bit_offset)
                .ok_or(BtfError::SizeOverflow { id })?;
            let resolved = self.resolve(raw.type_id)?;
            let kind = self.kind_of(resolved)?;
            if raw.name.is_empty() {
                if matches!(kind, Some(Kind::Struct | Kind::Union)) {
                    self.flatten_into(resolved, bit_offset, depth + 1, flat)?;
                }
                continue;
            }
            let member = self.with_int_bitfield(Member { bit_offset, ..raw })?;
            flat.push(member);
        }
        Ok(())
    }
}
