//! Stage `plan`'s map walk, evaluated: `Evaluator` computes each row of a walked map
//! (`map_walk::MapWalk`) with the program's semantics (64-bit registers, loads zero- or
//! sign-extended from their width, BPF division by zero and shift counts modulo 64, C-string text
//! comparison) and writes it in the plan's `RowLayout`, so decoding, user-space grouping, sort,
//! limit and every output format are those of the program's rows.

use crate::alu::{arith, compare, extend};
use crate::bind::{TExpr, TKind, Ty};
use crate::layout::{ColumnKind, RowLayout};
use crate::map_walk::{MapField, MapWalk};
use crate::maps::MapShape;
use crate::plan::Plan;

/// One element of the walked map, as the map syscalls return it.
pub struct Element<'a> {
    /// `key_size` bytes.
    pub key: &'a [u8],
    /// `value_size` bytes; for a per-CPU map, one value per possible CPU, each rounded up to 8
    /// bytes (the layout the iterator's `value` points to as well).
    pub value: &'a [u8],
}

/// Why a row could not be computed (the walk read less than the plan was checked against).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "map walk: {}", self.0)
    }
}

impl std::error::Error for EvalError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Key,
    Value,
    Map,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    Int(u64),
    Ptr(Region, u32),
}

/// Computes the rows of a walked map: the plan's filter and columns over each element.
pub struct Evaluator<'a> {
    plan: &'a Plan,
    layout: &'a RowLayout,
    /// The bytes of `struct bpf_map` the query reads, the known fields filled in.
    map_image: Vec<u8>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator of `plan` (whose rows come from `walk`) for the map described by `info`
    /// (its current id, name, type and sizes).
    pub fn new(
        plan: &'a Plan,
        walk: &MapWalk,
        layout: &'a RowLayout,
        info: &MapShape,
    ) -> Evaluator<'a> {
        let size = walk
            .map_fields
            .iter()
            .map(|f| f.offset + f.len)
            .max()
            .unwrap_or(0);
        let mut map_image = vec![0u8; size as usize];
        for at in &walk.map_fields {
            let slot = &mut map_image[at.offset as usize..(at.offset + at.len) as usize];
            let bytes: Vec<u8> = match at.field {
                MapField::Id => info.id.to_le_bytes().to_vec(),
                MapField::MapType => info.map_type.to_le_bytes().to_vec(),
                MapField::KeySize => info.key_size.to_le_bytes().to_vec(),
                MapField::ValueSize => info.value_size.to_le_bytes().to_vec(),
                // At most len - 1 bytes: the kernel's name is NUL-terminated.
                MapField::Name => info
                    .name
                    .bytes()
                    .take(slot.len().saturating_sub(1))
                    .collect(),
            };
            let n = bytes.len().min(slot.len());
            slot[..n].copy_from_slice(&bytes[..n]);
        }
        Evaluator {
            plan,
            layout,
            map_image,
        }
    }

    /// Whether `element` passes the filter; if so its row is written into `row` (the layout's
    /// size; zero-filled first).
    pub fn row(&self, element: &Element<'_>, row: &mut [u8]) -> Result<bool, EvalError> {
        if let Some(filter) = &self.plan.kernel.filter {
            if !self.cond(filter, element)? {
                return Ok(false);
            }
        }
        row.fill(0);
        for (column, placed) in self.plan.kernel.columns.iter().zip(&self.layout.columns) {
            if placed.null_flag.is_some() {
                return Err(EvalError("a nullable column reached the map walk".into()));
            }
            let at = placed.offset as usize;
            let width = placed.kind.width() as usize;
            let slot = row
                .get_mut(at..at + width)
                .ok_or_else(|| EvalError("a column outside the row".into()))?;
            match &placed.kind {
                ColumnKind::Bool => slot[0] = u8::from(self.cond(&column.expr, element)?),
                ColumnKind::Chars { .. } | ColumnKind::Bytes { .. } => {
                    let TKind::Place { ptr, offset } = &column.expr.kind else {
                        return Err(EvalError("bytes that are not a place".into()));
                    };
                    let bytes = self.bytes(ptr, *offset, width as u32, element)?;
                    slot.copy_from_slice(bytes);
                }
                _ => {
                    let value = self.int(&column.expr, element)?;
                    slot.copy_from_slice(&value.to_le_bytes()[..width.min(8)]);
                }
            }
        }
        Ok(true)
    }

    fn region<'e>(&'e self, region: Region, element: &'e Element<'_>) -> &'e [u8] {
        match region {
            Region::Key => element.key,
            Region::Value => element.value,
            Region::Map => &self.map_image,
        }
    }

    /// `len` bytes at `offset` behind `ptr`.
    fn bytes<'e>(
        &'e self,
        ptr: &TExpr,
        offset: u32,
        len: u32,
        element: &'e Element<'_>,
    ) -> Result<&'e [u8], EvalError> {
        let Val::Ptr(region, base) = self.eval(ptr, element)? else {
            return Err(EvalError("a read through an integer".into()));
        };
        let start = (base + offset) as usize;
        self.region(region, element)
            .get(start..start + len as usize)
            .ok_or_else(|| {
                EvalError(format!(
                    "{len} bytes at {start} of the {region:?} are out of range"
                ))
            })
    }

    fn int(&self, expr: &TExpr, element: &Element<'_>) -> Result<u64, EvalError> {
        match self.eval(expr, element)? {
            Val::Int(v) => Ok(v),
            Val::Ptr(..) => Err(EvalError("a pointer used as an integer".into())),
        }
    }

    fn eval(&self, expr: &TExpr, element: &Element<'_>) -> Result<Val, EvalError> {
        Ok(match &expr.kind {
            TKind::CtxField { name, .. } => match name.as_str() {
                "key" => Val::Ptr(Region::Key, 0),
                "value" => Val::Ptr(Region::Value, 0),
                "map" => Val::Ptr(Region::Map, 0),
                other => return Err(EvalError(format!("context field {other}"))),
            },
            TKind::Place { ptr, offset } => match self.eval(ptr, element)? {
                Val::Ptr(region, base) => Val::Ptr(region, base + offset),
                Val::Int(_) => return Err(EvalError("a place behind an integer".into())),
            },
            TKind::Load {
                ptr,
                offset,
                bytes,
                signed,
                bitfield,
            } => {
                let raw = self.bytes(ptr, *offset, u32::from(*bytes), element)?;
                let mut word = [0u8; 8];
                word[..raw.len()].copy_from_slice(raw);
                let unit = u64::from_le_bytes(word);
                Val::Int(match bitfield {
                    // The unit zero-extended, then the bits moved up and back down.
                    Some((bit, bits)) => extend(unit, *bits, *bit, *signed),
                    None => extend(unit, u32::from(*bytes) * 8, 0, *signed),
                })
            }
            TKind::Int(c) => Val::Int(*c),
            TKind::Neg(e) => Val::Int(crate::alu::neg(self.int(e, element)?)),
            TKind::BitNot(e) => Val::Int(!self.int(e, element)?),
            TKind::Cast {
                value,
                bytes,
                signed,
            } => Val::Int(extend(
                self.int(value, element)?,
                u32::from(*bytes) * 8,
                0,
                *signed,
            )),
            TKind::ByteSwap { value, bytes } => {
                let v = self.int(value, element)?;
                // BPF_END to big-endian on a little-endian CPU: the low 16 or 32 bits swapped
                // and zero-extended, else all 64.
                Val::Int(match bytes {
                    2 => u64::from((v as u16).swap_bytes()),
                    4 => u64::from((v as u32).swap_bytes()),
                    _ => v.swap_bytes(),
                })
            }
            TKind::Arith {
                op,
                lhs,
                rhs,
                signed,
            } => Val::Int(arith(
                *op,
                self.int(lhs, element)?,
                self.int(rhs, element)?,
                *signed,
            )),
            TKind::BoolToInt { cond } => Val::Int(u64::from(self.cond(cond, element)?)),
            TKind::Call { func, args } => {
                let registers = args
                    .iter()
                    .map(|arg| {
                        if arg.ty == Ty::Bool {
                            self.cond(arg, element).map(u64::from)
                        } else {
                            self.int(arg, element)
                        }
                    })
                    .collect::<Result<Vec<u64>, EvalError>>()?;
                Val::Int(func.eval(&registers).ok_or_else(|| {
                    EvalError(format!("`{}` of {} arguments", func.name(), args.len()))
                })?)
            }
            _ => {
                return Err(EvalError(format!(
                    "a {} is not computed by the map walk",
                    expr.ty.describe()
                )))
            }
        })
    }

    fn cond(&self, expr: &TExpr, element: &Element<'_>) -> Result<bool, EvalError> {
        Ok(match &expr.kind {
            TKind::And(a, b) => self.cond(a, element)? && self.cond(b, element)?,
            TKind::Or(a, b) => self.cond(a, element)? || self.cond(b, element)?,
            TKind::Not(a) => !self.cond(a, element)?,
            TKind::Compare {
                op,
                lhs,
                rhs,
                signed,
            } => {
                // The binder has narrowed a literal to the other operand's width already.
                compare(
                    *op,
                    self.int(lhs, element)?,
                    self.int(rhs, element)?,
                    *signed,
                )
            }
            TKind::TextEq {
                text,
                literal,
                negated,
            } => {
                let (TKind::Place { ptr, offset }, Ty::Chars { len }) = (&text.kind, &text.ty)
                else {
                    return Err(EvalError("text comparison of no char array".into()));
                };
                let bytes = self.bytes(ptr, *offset, *len, element)?;
                // The literal and its NUL, as far as the array has room.
                let compared = (literal.len() + 1).min(*len as usize);
                let mut expected = literal.clone();
                expected.resize(compared, 0);
                (bytes[..compared] == expected[..]) != *negated
            }
            TKind::Like {
                text,
                pattern,
                negated,
            } => {
                let (TKind::Place { ptr, offset }, Ty::Chars { len }) = (&text.kind, &text.ty)
                else {
                    return Err(EvalError("`like` of no char array".into()));
                };
                let bytes = self.bytes(ptr, *offset, *len, element)?;
                let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
                glob(&bytes[..end], pattern) != *negated
            }
            TKind::Load { .. } if expr.ty == Ty::Bool => self.int(expr, element)? != 0,
            _ => {
                return Err(EvalError(format!(
                    "a {} used as a condition",
                    expr.ty.describe()
                )))
            }
        })
    }
}

/// Whether the C string `text` matches `pattern`: `%` any run of bytes, `_` any one byte.
fn glob(text: &[u8], pattern: &[u8]) -> bool {
    // Classic two-pointer matching with backtracking to the last `%`.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'_' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == b'%' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_narrow_negative_literals_not_typed_constants() {
        let u32_ty = Ty::Int {
            bytes: 4,
            signed: false,
        };
        let constant = |v: i64, ty: Ty| TExpr {
            kind: TKind::Int(v as u64),
            ty,
            span: crate::diagnostic::Span::default(),
        };
        let narrowed = |c: &TExpr| crate::bind::narrowed_literal(c, &u32_ty);
        assert_eq!(narrowed(&constant(-1, Ty::Literal)), Some(0xffff_ffff));
        assert_eq!(narrowed(&constant(5, Ty::Literal)), Some(5));
        // `cast(-1 as s64)` is the register value -1 at run time too: not narrowed.
        let s64 = Ty::Int {
            bytes: 8,
            signed: true,
        };
        assert_eq!(narrowed(&constant(-1, s64)), Some(u64::MAX));
    }

    #[test]
    fn globs_match_c_strings() {
        assert!(glob(b"counts", b"c%"));
        assert!(glob(b"counts", b"%un%"));
        assert!(glob(b"counts", b"count_"));
        assert!(!glob(b"counts", b"count__"));
        assert!(glob(b"", b"%"));
        assert!(!glob(b"", b"_"));
        assert!(glob(b"aXbXc", b"a%c"));
        assert!(!glob(b"abc", b"a%d"));
    }
}
