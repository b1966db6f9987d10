//! Stage `plan`, for `bpf_map_elem` on a kernel that refuses map-element programs: the rows come
//! from a user-space walk of the map (BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM, run by the
//! runtime) instead of a program. Guarantees: the walk is chosen exactly when the target is
//! `bpf_map_elem` and `KernelFeatures::map_elem_programs` is false; a query is accepted only when
//! every column and the filter read nothing but the element's key and value bytes and the map
//! fields its info carries (id, name, type, key and value sizes), else E0304 names the part that
//! needs a program; `map_walk_eval::Evaluator` then computes the rows.

use crate::bind::{IterParams, MapParam, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
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
    /// `bpf_sk_storage_map` and `sockmap` rows from one program per socket iterator, read one
    /// after the other (`socket_storage::choose`; the programs are `Compiled::socket_programs`).
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

/// The walk for a plan (its target, parameters, kernel columns and filter), when its rows must
/// come from one: `bpf_map_elem` on a kernel whose
/// features say map-element programs are refused. None otherwise (the program path). An error
/// names the first part of the query the walk cannot compute.
pub fn choose<'e>(
    target: &str,
    iter_params: Option<&IterParams>,
    columns: impl IntoIterator<Item = &'e TExpr>,
    filter: Option<&TExpr>,
    btf: &Btf,
    features: &KernelFeatures,
) -> Result<Option<MapWalk>, Diagnostic> {
    if target != WALKABLE_TARGET || features.map_elem_programs {
        return Ok(None);
    }
    let Some(IterParams::Map(map)) = iter_params else {
        return Ok(None);
    };
    let mut checker = Checker {
        btf,
        features,
        map_fields: Vec::new(),
    };
    for column in columns {
        checker.column(column)?;
    }
    if let Some(filter) = filter {
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
            Ty::Int { .. }
            | Ty::Literal
            | Ty::Enum { .. }
            | Ty::AddressFamily { .. }
            | Ty::Ipv4
            | Ty::VmaPerms
            | Ty::Time(_)
            | Ty::Shown(_) => self.value(expr),
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
            TKind::Call { args, .. } => args.iter().try_for_each(|arg| {
                if arg.ty == Ty::Bool {
                    self.cond(arg)
                } else {
                    self.value(arg)
                }
            }),
            // What the map walk's evaluator does not compute: refused, so the query runs a
            // program (or is refused where none can run).
            TKind::CtxField { .. }
            | TKind::CtxValue { .. }
            | TKind::Place { .. }
            | TKind::Str(_)
            | TKind::UserCall { .. }
            | TKind::Compare { .. }
            | TKind::TextEq { .. }
            | TKind::Like { .. }
            | TKind::StructCast { .. }
            | TKind::CString { .. }
            | TKind::DPath { .. }
            | TKind::KernfsPath { .. }
            | TKind::DentryPath { .. }
            | TKind::InetAddr { .. }
            | TKind::And(..)
            | TKind::Or(..)
            | TKind::Not(_) => Err(self.refuse(expr, "this value")),
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
            TKind::Load { .. }
            | TKind::CtxField { .. }
            | TKind::CtxValue { .. }
            | TKind::Place { .. }
            | TKind::Int(_)
            | TKind::Str(_)
            | TKind::Neg(_)
            | TKind::BitNot(_)
            | TKind::Arith { .. }
            | TKind::StructCast { .. }
            | TKind::CString { .. }
            | TKind::DPath { .. }
            | TKind::KernfsPath { .. }
            | TKind::DentryPath { .. }
            | TKind::InetAddr { .. }
            | TKind::BoolToInt { .. }
            | TKind::Call { .. }
            | TKind::UserCall { .. }
            | TKind::ByteSwap { .. }
            | TKind::Cast { .. } => Err(self.refuse(expr, "this condition")),
        }
    }
}
