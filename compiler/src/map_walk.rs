//! Stage `plan`, for `bpf_map_elem` on a kernel that refuses map-element programs: the rows come
//! from a user-space walk of the map (BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM, run by the
//! runtime) instead of a program. Guarantees: the walk is chosen exactly when the target is
//! `bpf_map_elem` and `KernelFeatures::map_elem_programs` is false; a query is accepted only when
//! every column and the filter read nothing but the element's key and value bytes and the map
//! fields its info carries (id, name, type, key and value sizes), else E0304 names the part that
//! needs a program; `Evaluator` computes each row with the program's semantics (64-bit registers,
//! loads zero- or sign-extended from their width, BPF division by zero and shift counts modulo 64,
//! C-string text comparison) and writes it in the plan's `RowLayout`, so decoding, user-space
//! grouping, sort, limit and every output format are those of the program's rows.

use crate::bind::{ArithOp, CmpOp, IterParams, MapParam, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::layout::{ColumnKind, RowLayout};
use crate::maps::MapShape;
use crate::plan::Plan;
use bpfq_kernel::{Btf, KernelFeatures};

/// The target whose rows a user-space walk can produce (sockmap and sk_storage rows are sockets,
/// which only a program can read).
pub const WALKABLE_TARGET: &str = "bpf_map_elem";

/// A field of `struct bpf_map` that `BPF_OBJ_GET_INFO_BY_FD` reports too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapField {
    Id,
    Name,
    MapType,
    KeySize,
    ValueSize,
}

impl MapField {
    fn of_member(name: &str) -> Option<MapField> {
        Some(match name {
            "id" => MapField::Id,
            "name" => MapField::Name,
            "map_type" => MapField::MapType,
            "key_size" => MapField::KeySize,
            "value_size" => MapField::ValueSize,
            _ => return None,
        })
    }
}

/// Where one of those fields sits in `struct bpf_map` (this kernel's BTF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapFieldAt {
    pub field: MapField,
    pub offset: u32,
    pub len: u32,
}

/// The plan's choice to read a `bpf_map_elem` query's rows from user space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapWalk {
    /// The map walked (as bound: name, id or path, and its shape).
    pub map: MapParam,
    /// The `struct bpf_map` fields the query reads, where they are in the struct.
    pub map_fields: Vec<MapFieldAt>,
    /// Why there is no program, for `explain` ("probed: loading a bpf_map_elem program").
    pub why: String,
}

/// Where rows come from.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum RowsFrom {
    /// The iterator program writes them (seq file or ring buffer, `plan.target.transport`).
    #[default]
    Program,
    /// User space reads the map's elements and computes the rows (`Evaluator`).
    MapWalk(MapWalk),
    /// `bpf_sk_storage_map` rows from one program per socket iterator, read one after the
    /// other (`socket_storage::choose`; the programs are `Compiled::socket_programs`).
    SocketIterators(crate::socket_storage::SocketIterators),
}

fn refused(features: &KernelFeatures) -> String {
    format!(
        "this kernel refuses programs on map-element iterators ({})",
        features.why.map_elem_programs
    )
}

/// E0304 at `span`: `what` needs a program on the map's elements, which this kernel refuses.
fn needs_program(features: &KernelFeatures, span: Span, what: impl Into<String>) -> Diagnostic {
    Diagnostic::error(
        codes::MAP_ELEM_PROGRAM_REFUSED,
        format!(
            "{}: {} cannot be computed without one",
            refused(features),
            what.into()
        ),
    )
    .with_primary(span, "needs a program on the map's elements")
    .with_note(
        "bpfq reads the map with BPF_MAP_GET_NEXT_KEY and BPF_MAP_LOOKUP_ELEM instead; that gives \
         the key, the value, and the map's id, name, type, key and value sizes",
    )
    .with_note(
        "select and filter on those: comparisons, and/or/not, in, arithmetic, casts, text \
         comparison of map_name",
    )
}

/// The walk for `plan`, when its rows must come from one: `bpf_map_elem` on a kernel whose
/// features say map-element programs are refused. None otherwise (the program path). An error
/// names the first part of the query the walk cannot compute.
pub fn choose(
    plan: &Plan,
    btf: &Btf,
    features: &KernelFeatures,
) -> Result<Option<MapWalk>, Diagnostic> {
    if plan.target.name != WALKABLE_TARGET || features.map_elem_programs {
        return Ok(None);
    }
    let Some(IterParams::Map(map)) = &plan.iter_params else {
        return Ok(None);
    };
    let mut checker = Checker {
        btf,
        features,
        map_fields: Vec::new(),
    };
    for column in &plan.kernel.columns {
        checker.column(&column.expr)?;
    }
    if let Some(filter) = &plan.kernel.filter {
        checker.cond(filter)?;
    }
    Ok(Some(MapWalk {
        map: map.clone(),
        map_fields: checker.map_fields,
        why: features.why.map_elem_programs.to_string(),
    }))
}

/// E0304 for `bpfq pin` / `bpfq compile` of a query whose rows would come from a map walk.
pub fn nothing_to_pin(features: &KernelFeatures, span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::MAP_ELEM_PROGRAM_REFUSED,
        format!(
            "{}: there is no program to pin or compile",
            refused(features)
        ),
    )
    .with_primary(span, "its rows can only be read from user space here")
    .with_note("run the query instead: `bpfq QUERY` reads the map with the map syscalls")
}

struct Checker<'a> {
    btf: &'a Btf,
    features: &'a KernelFeatures,
    map_fields: Vec<MapFieldAt>,
}

impl Checker<'_> {
    fn refuse(&self, expr: &TExpr, what: impl Into<String>) -> Diagnostic {
        needs_program(self.features, expr.span, what)
    }

    fn column(&mut self, expr: &TExpr) -> Result<(), Diagnostic> {
        match &expr.ty {
            Ty::Bool => self.cond(expr),
            Ty::Chars { .. } | Ty::Bytes { .. } => self.memory(expr).map(|_| ()),
            Ty::Int { .. } | Ty::Literal | Ty::Enum { .. } | Ty::Ipv4 | Ty::VmaPerms => {
                self.value(expr)
            }
            other => Err(self.refuse(expr, format!("a column of type {}", other.describe()))),
        }
    }

    /// A `Place` of text or bytes in the key, the value or the map's name.
    fn memory(&mut self, expr: &TExpr) -> Result<(), Diagnostic> {
        let TKind::Place { ptr, offset } = &expr.kind else {
            return Err(self.refuse(expr, "this text"));
        };
        let len = match expr.ty {
            Ty::Chars { len } | Ty::Bytes { len } => len,
            _ => return Err(self.refuse(expr, "this value")),
        };
        self.read(expr, ptr, *offset, len)
    }

    /// A read of `len` bytes at `offset` behind `ptr`, which must be a context field.
    fn read(&mut self, expr: &TExpr, ptr: &TExpr, offset: u32, len: u32) -> Result<(), Diagnostic> {
        let TKind::CtxField { name, .. } = &ptr.kind else {
            return Err(self.refuse(expr, "a read through a pointer loaded from kernel memory"));
        };
        match name.as_str() {
            "key" | "value" => Ok(()),
            "map" => {
                let Ty::Ptr { pointee } = ptr.ty else {
                    return Err(self.refuse(expr, "this map field"));
                };
                let members = self.btf.members(pointee).unwrap_or_default();
                let found = members.iter().find_map(|m| {
                    let size = self.btf.size_of(m.type_id).ok()?;
                    let start = m.bit_offset / 8;
                    let field = MapField::of_member(m.name)?;
                    (m.bitfield_size.is_none()
                        && m.bit_offset % 8 == 0
                        && start <= offset
                        && offset + len <= start + size)
                        .then_some(MapFieldAt {
                            field,
                            offset: start,
                            len: size,
                        })
                });
                match found {
                    Some(at) => {
                        if !self.map_fields.contains(&at) {
                            self.map_fields.push(at);
                        }
                        Ok(())
                    }
                    None => Err(self.refuse(
                        expr,
                        "this field of the map (only id, name, map_type, key_size and value_size are known)",
                    )),
                }
            }
            other => Err(self.refuse(expr, format!("the context field `{other}`"))),
        }
    }

    fn value(&mut self, expr: &TExpr) -> Result<(), Diagnostic> {
        match &expr.kind {
            TKind::Int(_) => Ok(()),
            TKind::Load {
                ptr, offset, bytes, ..
            } => self.read(expr, ptr, *offset, u32::from(*bytes)),
            TKind::Neg(e) | TKind::BitNot(e) => self.value(e),
            TKind::Cast { value, .. } | TKind::ByteSwap { value, .. } => self.value(value),
            TKind::Arith { lhs, rhs, .. } => {
                self.value(lhs)?;
                self.value(rhs)
            }
            TKind::BoolToInt { cond } => self.cond(cond),
            TKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                self.cond(cond)?;
                self.value(then)?;
                self.value(otherwise)
            }
            _ => Err(self.refuse(expr, "this value")),
        }
    }

    fn cond(&mut self, expr: &TExpr) -> Result<(), Diagnostic> {
        match &expr.kind {
            TKind::And(a, b) | TKind::Or(a, b) => {
                self.cond(a)?;
                self.cond(b)
            }
            TKind::Not(a) => self.cond(a),
            TKind::Compare { lhs, rhs, .. } => {
                self.value(lhs)?;
                self.value(rhs)
            }
            TKind::TextEq { text, .. } | TKind::Like { text, .. } => match text.ty {
                Ty::Chars { .. } => self.memory(text),
                _ => Err(self.refuse(text, "this text")),
            },
            TKind::Load { .. } if expr.ty == Ty::Bool => self.value(expr),
            _ => Err(self.refuse(expr, "this condition")),
        }
    }
}

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
            TKind::Neg(e) => Val::Int(self.int(e, element)?.wrapping_neg()),
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
            TKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                if self.cond(cond, element)? {
                    Val::Int(self.int(then, element)?)
                } else {
                    Val::Int(self.int(otherwise, element)?)
                }
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
                // As the lowering: a literal goes right, then a negative literal compared with a
                // narrower unsigned value is taken at that width.
                let (op, lhs, rhs) = if matches!(lhs.kind, TKind::Int(_)) {
                    (swapped(*op), rhs, lhs)
                } else {
                    (*op, lhs, rhs)
                };
                let a = self.int(lhs, element)?;
                let b = match rhs.kind {
                    TKind::Int(c) => narrow_literal(c, &lhs.ty),
                    _ => self.int(rhs, element)?,
                };
                compare(op, a, b, *signed)
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

/// Bits `[bit, bit + bits)` of `v`, zero- or sign-extended to 64 bits (the lowering's two shifts).
fn extend(v: u64, bits: u32, bit: u32, signed: bool) -> u64 {
    if bits >= 64 {
        return v;
    }
    let raised = v << (64 - bit - bits);
    let down = 64 - bits;
    if signed {
        ((raised as i64) >> down) as u64
    } else {
        raised >> down
    }
}

/// BPF's 64-bit ALU: wrapping arithmetic; x / 0 = 0 and x % 0 = x (signed or not);
/// INT64_MIN / -1 = INT64_MIN and INT64_MIN % -1 = 0; shift counts taken modulo 64.
fn arith(op: ArithOp, a: u64, b: u64, signed: bool) -> u64 {
    let (sa, sb) = (a as i64, b as i64);
    match op {
        ArithOp::Add => a.wrapping_add(b),
        ArithOp::Sub => a.wrapping_sub(b),
        ArithOp::Mul => a.wrapping_mul(b),
        ArithOp::Div if b == 0 => 0,
        ArithOp::Rem if b == 0 => a,
        ArithOp::Div if signed => sa.wrapping_div(sb) as u64,
        ArithOp::Rem if signed => sa.wrapping_rem(sb) as u64,
        ArithOp::Div => a / b,
        ArithOp::Rem => a % b,
        ArithOp::BitAnd => a & b,
        ArithOp::BitOr => a | b,
        ArithOp::BitXor => a ^ b,
        ArithOp::Shl => a << (b & 63),
        ArithOp::Shr if signed => (sa >> (b & 63)) as u64,
        ArithOp::Shr => a >> (b & 63),
    }
}

fn compare(op: CmpOp, a: u64, b: u64, signed: bool) -> bool {
    let ordering = if signed {
        (a as i64).cmp(&(b as i64))
    } else {
        a.cmp(&b)
    };
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => ordering.is_lt(),
        CmpOp::Le => ordering.is_le(),
        CmpOp::Gt => ordering.is_gt(),
        CmpOp::Ge => ordering.is_ge(),
    }
}

fn swapped(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// The lowering's `narrow_literal`: a negative literal within a narrower unsigned type's range
/// is taken at that width (`key == -1` means 0xffffffff for a u32 key).
fn narrow_literal(c: u64, other: &Ty) -> u64 {
    match other {
        Ty::Int {
            bytes,
            signed: false,
        } if *bytes < 8 => {
            let bits = u32::from(*bytes) * 8;
            let value = c as i64;
            if value < 0 && value >= -(1i64 << (bits - 1)) {
                c & ((1u64 << bits) - 1)
            } else {
                c
            }
        }
        _ => c,
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
    fn division_and_shifts_follow_bpf() {
        assert_eq!(arith(ArithOp::Div, 7, 0, false), 0);
        assert_eq!(arith(ArithOp::Rem, 7, 0, true), 7);
        let min = i64::MIN as u64;
        assert_eq!(arith(ArithOp::Div, min, u64::MAX, true), min);
        assert_eq!(arith(ArithOp::Rem, min, u64::MAX, true), 0);
        assert_eq!(arith(ArithOp::Div, (-7i64) as u64, 2, true), (-3i64) as u64);
        assert_eq!(arith(ArithOp::Rem, (-7i64) as u64, 2, true), (-1i64) as u64);
        assert_eq!(arith(ArithOp::Shl, 1, 65, false), 2);
        assert_eq!(arith(ArithOp::Shr, min, 63, true), u64::MAX);
        assert_eq!(arith(ArithOp::Shr, min, 63, false), 1);
    }

    #[test]
    fn extension_keeps_width_and_sign() {
        assert_eq!(extend(0xff, 8, 0, true), u64::MAX);
        assert_eq!(extend(0x1ff, 8, 0, false), 0xff);
        // Bits 4..7 of 0xa0 are 0b1010: -6 signed.
        assert_eq!(extend(0xa0, 4, 4, true), (-6i64) as u64);
        assert_eq!(extend(0xa0, 4, 4, false), 10);
    }

    #[test]
    fn comparisons_narrow_negative_literals_like_the_lowering() {
        let u32_ty = Ty::Int {
            bytes: 4,
            signed: false,
        };
        assert_eq!(narrow_literal((-1i64) as u64, &u32_ty), 0xffff_ffff);
        assert_eq!(narrow_literal(5, &u32_ty), 5);
        assert!(compare(CmpOp::Lt, (-1i64) as u64, 0, true));
        assert!(!compare(CmpOp::Lt, (-1i64) as u64, 0, false));
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
