//! Stage `bind`: names and BTF paths. A path's head resolves, in order, to a stdlib column of the
//! target, a field of the iterator context, or a member of the target's main object; each further
//! step follows BTF (pointers implicitly, anonymous members flattened, arrays by constant index).

use super::quirks::holds_address;
use super::{internal, malformed_btf, quote_list, Binder, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Span};
use crate::syntax::ast::{ExprKind, PathSegment};
use bpfq_kernel::{BtfType, TypeId};

impl Binder<'_> {
    pub(super) fn bind_path(
        &mut self,
        segments: &[PathSegment],
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        let (head, rest) = match segments.split_first() {
            Some((PathSegment::Field(head), rest)) => (head, rest),
            _ => return Err(internal(span, "path without a leading name")),
        };
        // `t.pid` with `from task as t`, or `task.pid` where `task` is not itself a context field.
        let qualifier = self.alias.as_deref() == Some(head.name.as_str())
            || (head.name == self.target.name
                && !self.target.context.iter().any(|f| f.name == head.name));
        if qualifier && !rest.is_empty() {
            return self.bind_path(rest, span);
        }
        let mut expr = self.bind_head(&head.name, head.span)?;
        for segment in rest {
            expr = self.step(expr, segment)?;
        }
        expr.span = span;
        Ok(expr)
    }

    fn bind_head(&mut self, name: &str, span: Span) -> Result<TExpr, Diagnostic> {
        // Inside the definition of stdlib column X, `X` means the field X (`column tcp.uid = uid`).
        let defining = self.in_progress.iter().any(|n| n == name);
        if !defining {
            if let Some(expr) = self.bind_column_by_name(name, span)? {
                return Ok(expr);
            }
        }
        if let Some(element) = self.map_element_field(name, span)? {
            return Ok(element);
        }
        if let Some(field) = self.target.context.iter().find(|f| f.name == name) {
            return self.ctx_field(field.name.clone(), field.byte_offset, field.type_id, span);
        }
        if let Some(main) = self.main_object(span)? {
            if let Ty::Ptr { pointee } = main.ty {
                if self
                    .env
                    .btf
                    .member(pointee, name)
                    .map_err(|e| malformed_btf(span, e))?
                    .is_some()
                {
                    return self.member(main, name, span);
                }
            }
        }
        // Last: an enumerator of any kernel enum, e.g. `TCP_LISTEN`.
        if let Some((id, value)) = self.env.btf.find_enumerator(name) {
            let (bytes, signed) = match self.env.btf.get(id) {
                Ok(BtfType::Enum { size, signed, .. }) => (size as u8, signed),
                _ => (4, false),
            };
            return Ok(TExpr {
                kind: TKind::Int(value as u64),
                ty: Ty::Enum { id, bytes, signed },
                span,
            });
        }
        Err(self.unknown_name(name, span))
    }

    pub(super) fn main_object(&self, span: Span) -> Result<Option<TExpr>, Diagnostic> {
        let Some(index) = self.target.main_object else {
            return Ok(None);
        };
        let field = &self.target.context[index];
        self.ctx_field(field.name.clone(), field.byte_offset, field.type_id, span)
            .map(Some)
    }

    fn ctx_field(
        &self,
        name: String,
        offset: u32,
        type_id: TypeId,
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        let btf = self.env.btf;
        let resolved = btf.resolve(type_id).map_err(|e| malformed_btf(span, e))?;
        match btf.get(resolved).map_err(|e| malformed_btf(span, e))? {
            BtfType::Ptr { target } => {
                let pointee = btf.resolve(target).map_err(|e| malformed_btf(span, e))?;
                Ok(TExpr { kind: TKind::CtxField { name, offset }, ty: Ty::Ptr { pointee }, span })
            }
            BtfType::Int { size, signed, .. } | BtfType::Enum { size, signed, .. } if matches!(size, 1 | 2 | 4 | 8) => {
                let ty = match btf.get(resolved) {
                    Ok(BtfType::Enum { .. }) => Ty::Enum { id: resolved, bytes: size as u8, signed },
                    _ => Ty::Int { bytes: size as u8, signed },
                };
                Ok(TExpr { kind: TKind::CtxValue { name, offset, bytes: size as u8, signed }, ty, span })
            }
            _ => Err(Diagnostic::error(
                codes::UNSUPPORTED,
                format!("context field `{name}` is neither a pointer nor an integer; it cannot be read yet"),
            )
            .with_primary(span, "here")),
        }
    }

    /// All names a bare identifier could have meant, for suggestions.
    fn known_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .env
            .stdlib
            .column_names_of(&self.target.name)
            .map(str::to_string)
            .collect();
        names.extend(self.target.context.iter().map(|f| f.name.clone()));
        if let Some(index) = self.target.main_object {
            if let Some(pointee) = self.target.context[index].pointee {
                if let Ok(members) = self.env.btf.members(pointee) {
                    names.extend(members.iter().map(|m| m.name.to_string()));
                }
            }
        }
        names
    }

    fn unknown_name(&self, name: &str, span: Span) -> Diagnostic {
        let known = self.known_names();
        let near = nearest_names(name, known.iter().map(String::as_str), 4);
        let mut diag = Diagnostic::error(
            codes::UNKNOWN_NAME,
            format!("unknown column or field `{name}`"),
        )
        .with_primary(
            span,
            format!(
                "not a column, context field or member of target `{}`",
                self.target.name
            ),
        );
        if !near.is_empty() {
            diag = diag.with_note(format!("did you mean {}?", quote_list(&near)));
        }
        diag.with_note(format!(
            "`bpfq describe {}` lists every column and field",
            self.target.name
        ))
    }

    /// One path step after the head: `.member` or `[index]`.
    pub(super) fn step(&mut self, base: TExpr, segment: &PathSegment) -> Result<TExpr, Diagnostic> {
        match segment {
            PathSegment::Field(ident) => self.member(base, &ident.name, ident.span),
            PathSegment::Index(index, span) => {
                let value = match &index.kind {
                    ExprKind::Int(v) => *v,
                    _ => {
                        return Err(Diagnostic::error(
                            codes::BAD_INDEX,
                            "array index must be a constant integer",
                        )
                        .with_primary(index.span, "not a constant"))
                    }
                };
                let (ptr, offset, elem, len) = match (&base.kind, &base.ty) {
                    (TKind::Place { ptr, offset }, Ty::Array { elem, len }) => {
                        (ptr.clone(), *offset, *elem, *len)
                    }
                    _ => {
                        return Err(Diagnostic::error(
                            codes::BAD_INDEX,
                            format!("cannot index {}", base.ty.a()),
                        )
                        .with_primary(*span, "only arrays can be indexed"))
                    }
                };
                // A flexible array member (`fib6_nh[]`, length 0 in BTF) has as many elements as
                // the object was allocated with; reads past the struct go through probe reads.
                if len > 0 && value >= u64::from(len) {
                    return Err(Diagnostic::error(
                        codes::BAD_INDEX,
                        format!("index {value} is out of bounds"),
                    )
                    .with_primary(index.span, format!("the array has {len} elements")));
                }
                let size = self
                    .env
                    .btf
                    .size_of(elem)
                    .map_err(|e| malformed_btf(*span, e))?;
                let offset = offset + size * value as u32;
                self.typed_memory(*ptr, offset, elem, None, base.span.to(*span))
            }
        }
    }

    /// `base.name` where base is a pointer to a struct or a struct in memory.
    pub(super) fn member(
        &mut self,
        base: TExpr,
        name: &str,
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        let btf = self.env.btf;
        let (ptr, offset, struct_id) = match (&base.kind, &base.ty) {
            (_, Ty::Ptr { pointee }) => (base.clone(), 0, *pointee),
            (TKind::Place { ptr, offset }, Ty::Struct { id }) => ((**ptr).clone(), *offset, *id),
            _ => {
                return Err(Diagnostic::error(
                    codes::NOT_A_STRUCT,
                    format!("`{name}`: {} has no fields", base.ty.a()),
                )
                .with_primary(span, "no such field")
                .with_secondary(base.span, format!("this is {}", base.ty.a())))
            }
        };
        match btf.get(struct_id).map_err(|e| malformed_btf(span, e))? {
            BtfType::Struct { .. } | BtfType::Union { .. } => {}
            BtfType::Fwd { name: fwd, .. } => {
                return Err(Diagnostic::error(
                    codes::NO_BTF_TYPE,
                    format!("the kernel's BTF has no definition of `{fwd}`"),
                )
                .with_primary(base.span, "points to a type known only by name")
                .with_note("its fields cannot be read"))
            }
            BtfType::FuncProto { .. } => {
                return Err(Diagnostic::error(
                    codes::NO_BTF_TYPE,
                    "cannot follow a function pointer",
                )
                .with_primary(base.span, "this is a function pointer"))
            }
            _ => {
                let what = crate::bind::typed::Ty::Ptr { pointee: struct_id }.describe();
                return Err(Diagnostic::error(
                    codes::NOT_A_STRUCT,
                    format!("`{name}`: this {what} does not point to a struct"),
                )
                .with_primary(span, "no such field")
                .with_secondary(base.span, bpfq_kernel::catalogue::type_name(btf, struct_id)));
            }
        }
        let Some(member) = btf
            .member(struct_id, name)
            .map_err(|e| malformed_btf(span, e))?
        else {
            let members = btf.members(struct_id).map_err(|e| malformed_btf(span, e))?;
            let near = nearest_names(name, members.iter().map(|m| m.name), 4);
            let struct_name = bpfq_kernel::catalogue::type_name(btf, struct_id);
            let mut diag = Diagnostic::error(
                codes::UNKNOWN_MEMBER,
                format!("`{struct_name}` has no member `{name}`"),
            )
            .with_primary(span, "unknown member");
            if !near.is_empty() {
                diag = diag.with_note(format!("did you mean {}?", quote_list(&near)));
            }
            return Err(diag);
        };
        let byte_offset = offset + member.bit_offset / 8;
        let bitfield = member
            .bitfield_size
            .map(|bits| (member.bit_offset % 8, bits));
        let owner = btf.name_of(struct_id).unwrap_or_default();
        if holds_address(owner, name)
            && bitfield.is_none()
            && btf.size_of(member.type_id).ok() == Some(8)
        {
            // A kernel address kept in an integer (`bind::quirks`): a pointer to nothing known.
            return Ok(TExpr {
                kind: TKind::Load {
                    ptr: Box::new(ptr),
                    offset: byte_offset,
                    bytes: 8,
                    signed: false,
                    bitfield: None,
                },
                ty: Ty::Ptr { pointee: TypeId(0) },
                span: base.span.to(span),
            });
        }
        self.typed_memory(
            ptr,
            byte_offset,
            member.type_id,
            bitfield,
            base.span.to(span),
        )
    }

    /// The expression for memory of BTF type `type_id` at `ptr + offset`: a load for scalars,
    /// a place for aggregates.
    fn typed_memory(
        &self,
        ptr: TExpr,
        offset: u32,
        type_id: TypeId,
        bitfield: Option<(u32, u32)>,
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        let btf = self.env.btf;
        let id = btf.resolve(type_id).map_err(|e| malformed_btf(span, e))?;
        let load = |bytes: u32, signed: bool, ty: Ty| -> Result<TExpr, Diagnostic> {
            let width = u8::try_from(bytes)
                .ok()
                .filter(|b| matches!(b, 1 | 2 | 4 | 8))
                .ok_or_else(|| {
                    Diagnostic::error(
                        codes::UNSUPPORTED,
                        format!("{bytes}-byte integers are not supported yet"),
                    )
                    .with_primary(span, "here")
                })?;
            // A bitfield is loaded from the naturally aligned unit of its type that contains it.
            let (offset, bitfield) = match bitfield {
                None => (offset, None),
                Some((bit, bits)) => {
                    let absolute = offset * 8 + bit;
                    let unit = absolute / (8 * bytes) * bytes;
                    let bit_in_unit = absolute - unit * 8;
                    if bit_in_unit + bits > bytes * 8 {
                        return Err(Diagnostic::error(
                            codes::UNSUPPORTED,
                            "a bitfield that straddles its storage unit is not supported",
                        )
                        .with_primary(span, "here"));
                    }
                    (unit, Some((bit_in_unit, bits)))
                }
            };
            Ok(TExpr {
                kind: TKind::Load {
                    ptr: Box::new(ptr.clone()),
                    offset,
                    bytes: width,
                    signed,
                    bitfield,
                },
                ty,
                span,
            })
        };
        match btf.get(id).map_err(|e| malformed_btf(span, e))? {
            BtfType::Int {
                size,
                signed,
                is_bool,
                ..
            } => {
                let ty = if is_bool {
                    Ty::Bool
                } else {
                    Ty::Int {
                        bytes: size as u8,
                        signed,
                    }
                };
                load(size, signed, ty)
            }
            BtfType::Enum { size, signed, .. } => load(
                size,
                signed,
                Ty::Enum {
                    id,
                    bytes: size as u8,
                    signed,
                },
            ),
            BtfType::Ptr { target } => {
                let pointee = btf.resolve(target).map_err(|e| malformed_btf(span, e))?;
                load(8, false, Ty::Ptr { pointee })
            }
            BtfType::Struct { .. } | BtfType::Union { .. } => Ok(TExpr {
                kind: TKind::Place {
                    ptr: Box::new(ptr),
                    offset,
                },
                ty: Ty::Struct { id },
                span,
            }),
            BtfType::Array { elem, len, .. } => {
                let elem_id = btf.resolve(elem).map_err(|e| malformed_btf(span, e))?;
                let is_char = matches!(
                    btf.get(elem_id),
                    Ok(BtfType::Int {
                        size: 1,
                        is_char: true,
                        ..
                    })
                ) || matches!(
                    btf.get(elem_id),
                    Ok(BtfType::Int {
                        size: 1,
                        name: "char",
                        ..
                    })
                );
                let ty = if is_char {
                    Ty::Chars { len }
                } else {
                    Ty::Array { elem: elem_id, len }
                };
                Ok(TExpr {
                    kind: TKind::Place {
                        ptr: Box::new(ptr),
                        offset,
                    },
                    ty,
                    span,
                })
            }
            other => Err(Diagnostic::error(
                codes::UNSUPPORTED,
                format!(
                    "values of BTF type `{}` are not supported",
                    bpfq_kernel::catalogue::type_name(btf, id)
                ),
            )
            .with_primary(span, format!("{:?}", kind_word(&other)))),
        }
    }
}

fn kind_word(t: &BtfType) -> &'static str {
    match t {
        BtfType::Float { .. } => "a floating-point value",
        BtfType::Fwd { .. } => "a forward declaration",
        BtfType::FuncProto { .. } | BtfType::Func { .. } => "a function",
        _ => "an unsupported kind of value",
    }
}
