//! Stage `bind`: the map-element targets (`bpf_map_elem`, `bpf_sk_storage_map`, `sockmap`).
//! Their `map = NAME | ID | "/pinned/path"` parameter is looked up through `BindEnv::maps`
//! before any column is bound, because the `void *` key and value fields get their types from
//! the map: an unsigned integer when the size is 1, 2, 4 or 8 bytes, else raw bytes; a per-CPU
//! integer value is the sum over every possible CPU. Guarantees: no key or value read goes past
//! the map's key or value size (the kernel checks that only when the link is created), and a map
//! the target cannot walk is refused here, before anything is loaded.

use super::{quote_list, Binder, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Span};
use crate::maps::{self, MapLookupError, MapRef, MapShape};
use crate::syntax::ast::Source;

/// The widest key or value shown whole, as bytes.
pub const ELEMENT_BYTES_MAX: u32 = 1024;

/// The map a map-element query walks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapParam {
    pub map: MapRef,
    pub shape: MapShape,
}

impl MapParam {
    /// For `explain`.
    pub fn describe(&self) -> String {
        let shape = &self.shape;
        format!(
            "the elements of {} ({}, key {} B, value {} B)",
            self.map,
            maps::map_type_name(shape.map_type),
            shape.key_size,
            shape.value_size
        )
    }

    /// `union bpf_iter_link_info` for `map_fd`, an open fd of this map (`struct { __u32
    /// map_fd; } map;`). The fd must stay open until the link is created.
    pub fn link_info(map_fd: u32) -> Vec<u8> {
        map_fd.to_ne_bytes().to_vec()
    }
}

fn needs_map(target: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::MAP_REQUIRED,
        format!("target `{target}` walks the elements of one map: name it"),
    )
    .with_primary(span, "no `map` parameter")
    .with_note(format!(
        "from {target}(map = \"NAME\"), map = ID or map = \"/sys/fs/bpf/PINNED\""
    ))
}

impl Binder<'_> {
    /// The `map` parameter of a map-element target, looked up; None for other targets, and for
    /// a map target without one when `required` is false (`describe` types columns that way).
    pub(super) fn bind_map_param(
        &mut self,
        from: &Source,
        required: bool,
    ) -> Result<Option<MapParam>, Diagnostic> {
        let target = self.target.name.clone();
        let Some(accepted) = maps::accepted_types(&target) else {
            return Ok(None);
        };
        let Some((name, value)) = from.params.first() else {
            return if required {
                Err(needs_map(&target, from.span))
            } else {
                Ok(None)
            };
        };
        if name.name != "map" || from.params.len() > 1 {
            let at = if name.name != "map" {
                name.span
            } else {
                from.params[1].0.span
            };
            return Err(Diagnostic::error(
                codes::BAD_PARAMETER,
                format!("target `{target}` takes one parameter, `map`"),
            )
            .with_primary(at, "not a parameter of this target")
            .with_note("map = \"NAME\", map = ID or map = \"/sys/fs/bpf/PINNED\""));
        }
        let bound = self.bind_expr(value)?;
        let map = match bound.kind {
            TKind::Int(id) if id > 0 && id <= u64::from(u32::MAX) => MapRef::Id(id as u32),
            TKind::Str(text) => {
                let text = String::from_utf8_lossy(&text).into_owned();
                if text.starts_with('/') {
                    MapRef::Pinned(text)
                } else {
                    MapRef::Name(text)
                }
            }
            _ => {
                return Err(Diagnostic::error(
                    codes::BAD_PARAMETER,
                    "`map` is a map name, a map id or the path of a pinned map",
                )
                .with_primary(value.span, format!("this is {}", bound.ty.a())))
            }
        };
        let Some(lookup) = self.env.maps else {
            return Err(Diagnostic::error(
                codes::UNKNOWN_MAP,
                format!("cannot look up {map} here"),
            )
            .with_primary(value.span, "no map lookup")
            .with_note("give the map's shape with --map-shape TYPE:KEY_SIZE:VALUE_SIZE"));
        };
        let shape = lookup.lookup(&map).map_err(|err| match err {
            MapLookupError::NotFound { near } => {
                let mut diag =
                    Diagnostic::error(codes::UNKNOWN_MAP, format!("there is no BPF {map}"))
                        .with_primary(value.span, "no such map on this machine");
                let wanted = match &map {
                    MapRef::Name(name) => name.clone(),
                    _ => String::new(),
                };
                let close = nearest_names(&wanted, near.iter().map(String::as_str), 4);
                if !close.is_empty() {
                    diag = diag.with_note(format!("did you mean {}?", quote_list(&close)));
                }
                diag.with_note("`bpfq 'from bpf_map select id, name, type'` lists the maps")
            }
            MapLookupError::Failed(why) => {
                Diagnostic::error(codes::UNKNOWN_MAP, format!("cannot open {map}: {why}"))
                    .with_primary(value.span, "this map")
            }
        })?;
        if !accepted.contains(&shape.map_type) {
            let names: Vec<String> = accepted.iter().map(|t| maps::map_type_name(*t)).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            return Err(Diagnostic::error(
                codes::WRONG_MAP_TYPE,
                format!(
                    "target `{target}` cannot walk maps of type {}",
                    maps::map_type_name(shape.map_type)
                ),
            )
            .with_primary(
                value.span,
                format!("{map} has type {}", maps::map_type_name(shape.map_type)),
            )
            .with_note(format!(
                "`{target}` walks maps of type {}",
                quote_list(&names)
            )));
        }
        self.map_shape = Some(shape.clone());
        Ok(Some(MapParam { map, shape }))
    }

    /// The `key` or `value` (`void *`) field of a map-element target, typed by the map; None
    /// for any other name or target.
    pub(super) fn map_element_field(
        &self,
        name: &str,
        span: Span,
    ) -> Result<Option<TExpr>, Diagnostic> {
        if maps::accepted_types(&self.target.name).is_none() || !matches!(name, "key" | "value") {
            return Ok(None);
        }
        let Some(field) = self.target.context.iter().find(|f| f.name == name) else {
            return Ok(None);
        };
        let Some(shape) = &self.map_shape else {
            return Err(Diagnostic::error(
                codes::MAP_REQUIRED,
                format!("the type of `{name}` is the map's"),
            )
            .with_primary(span, "typed by the map")
            .with_note(
                "an unsigned integer of 1, 2, 4 or 8 bytes, else bytes; name the map with `map = ...`",
            ));
        };
        let pointer = TExpr {
            kind: TKind::CtxField {
                name: field.name.clone(),
                offset: field.byte_offset,
            },
            ty: Ty::Ptr {
                pointee: bpfq_kernel::TypeId(0),
            },
            span,
        };
        let (size, percpu) = if name == "key" {
            (shape.key_size, false)
        } else {
            (shape.value_size, maps::is_percpu(shape.map_type))
        };
        let load = |offset: u32| TExpr {
            kind: TKind::Load {
                ptr: Box::new(pointer.clone()),
                offset,
                bytes: size as u8,
                signed: false,
                bitfield: None,
            },
            ty: Ty::Int {
                bytes: size as u8,
                signed: false,
            },
            span,
        };
        let integer = matches!(size, 1 | 2 | 4 | 8);
        if percpu {
            if !integer {
                return Err(Diagnostic::error(
                    codes::MAP_ELEMENT_UNREADABLE,
                    format!("the {size}-byte values of a per-CPU map cannot be summed"),
                )
                .with_primary(span, "a value per CPU")
                .with_note("bpfq sums per-CPU values over the CPUs; it does so for integers of 1, 2, 4 or 8 bytes only"));
            }
            // One value per possible CPU, each rounded up to 8 bytes: summed in 64 bits.
            let stride = size.next_multiple_of(8);
            let mut sum = load(0);
            for cpu in 1..shape.possible_cpus.max(1) {
                sum = TExpr {
                    kind: TKind::Arith {
                        op: super::ArithOp::Add,
                        lhs: Box::new(sum),
                        rhs: Box::new(load(cpu * stride)),
                        signed: false,
                    },
                    ty: Ty::Int {
                        bytes: 8,
                        signed: false,
                    },
                    span,
                };
            }
            sum.ty = Ty::Int {
                bytes: 8,
                signed: false,
            };
            return Ok(Some(sum));
        }
        if integer {
            return Ok(Some(load(0)));
        }
        if size == 0 || size > ELEMENT_BYTES_MAX {
            return Err(Diagnostic::error(
                codes::MAP_ELEMENT_UNREADABLE,
                format!("a {size}-byte {name} is too wide to show"),
            )
            .with_primary(span, format!("{} of {}", name, shape.name))
            .with_note(format!(
                "keys and values of up to {ELEMENT_BYTES_MAX} bytes are shown as hex"
            )));
        }
        Ok(Some(TExpr {
            kind: TKind::Place {
                ptr: Box::new(pointer),
                offset: 0,
            },
            ty: Ty::Bytes { len: size },
            span,
        }))
    }
}
