//! Iterator catalogue stage: lists the BPF iterator targets a kernel's BTF offers (context struct, attach function, context fields, main object).

mod facts;
mod meta;
mod object_count;
mod transport;
mod type_name;

pub use facts::{facts_of, ParamKind, TargetFacts, ADDRESS_MEMBERS, WELL_BEHAVED};
pub use meta::{meta_layout, MetaLayout};
pub use object_count::ObjectCount;
pub use transport::RowTransport;
pub use type_name::type_name;

use crate::btf::{Btf, BtfError, BtfType, Kind, TypeId};

const CONTEXT_PREFIX: &str = "bpf_iter__";
const ATTACH_PREFIX: &str = "bpf_iter_";
/// Verifier-only variants of context structs; they are not targets.
const TRUSTED_SUFFIX: &str = "__safe_trusted";

/// One iterator target, e.g. `task` with context `struct bpf_iter__task`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IterTarget {
    pub name: String,
    /// `struct bpf_iter__<name>`.
    pub ctx_struct: TypeId,
    /// FUNC `bpf_iter_<name>`: the program's attach_btf_id.
    pub attach_func: Option<TypeId>,
    /// Context members after `meta`, in offset order.
    pub context: Vec<CtxField>,
    /// Index into `context` of the object iterated over: the first pointer-to-struct field, or
    /// for the map-element targets the element's socket (`sk`) when it has one.
    pub main_object: Option<usize>,
    /// Index into `context` of the pointer that is NULL on the final call: the main object,
    /// except for the map-element targets (whose `map` is set on every call).
    pub final_null: Option<usize>,
    /// Where `ctx->meta->seq` and `seq_num` are; None if the context has no `meta` pointer.
    pub meta: Option<MetaLayout>,
    /// How rows of this target reach user space (`TargetFacts::transport`).
    pub transport: RowTransport,
}

impl IterTarget {
    /// What bpfq knows of this target beyond its BTF (one record per target).
    pub fn facts(&self) -> &'static TargetFacts {
        facts_of(&self.name)
    }
}

/// One member of an iterator context struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtxField {
    pub name: String,
    pub byte_offset: u32,
    pub type_id: TypeId,
    /// For pointer members, the pointed-to type after resolve (void is `TypeId(0)`).
    pub pointee: Option<TypeId>,
    /// C-like spelling of the member type.
    pub type_name: String,
}

/// Every iterator target in `btf`, sorted by name.
pub fn discover(btf: &Btf) -> Result<Vec<IterTarget>, BtfError> {
    let contexts: Vec<(TypeId, &str)> = btf
        .find_prefixed(Kind::Struct, CONTEXT_PREFIX)
        .into_iter()
        .filter(|(_, name)| !name.ends_with(TRUSTED_SUFFIX))
        .collect();
    let func_names: Vec<String> = contexts
        .iter()
        .map(|(_, name)| format!("{ATTACH_PREFIX}{}", &name[CONTEXT_PREFIX.len()..]))
        .collect();
    let wanted: Vec<(Kind, &str)> = func_names
        .iter()
        .map(|name| (Kind::Func, name.as_str()))
        .collect();
    let funcs = btf.find_many(&wanted);
    let mut targets = contexts
        .iter()
        .zip(funcs)
        .map(|(&(ctx, name), func)| build_target(btf, &name[CONTEXT_PREFIX.len()..], ctx, func))
        .collect::<Result<Vec<_>, _>>()?;
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    // Duplicate struct names (possible in merged BTF) would list a target twice; keep the first.
    targets.dedup_by(|later, earlier| later.name == earlier.name);
    Ok(targets)
}

/// The target `name` (e.g. "task"), found with a single pass over the BTF.
pub fn find_target(btf: &Btf, name: &str) -> Result<Option<IterTarget>, BtfError> {
    if name.ends_with(TRUSTED_SUFFIX) {
        return Ok(None);
    }
    let ctx_name = format!("{CONTEXT_PREFIX}{name}");
    let func_name = format!("{ATTACH_PREFIX}{name}");
    let found = btf.find_many(&[(Kind::Struct, &ctx_name), (Kind::Func, &func_name)]);
    match found[0] {
        Some(ctx) => build_target(btf, name, ctx, found[1]).map(Some),
        None => Ok(None),
    }
}

/// The targets `names` (None for each this BTF lacks), found together with a single pass over
/// the BTF.
pub fn find_targets(btf: &Btf, names: &[&str]) -> Result<Vec<Option<IterTarget>>, BtfError> {
    let spelled: Vec<(String, String)> = names
        .iter()
        .map(|name| {
            (
                format!("{CONTEXT_PREFIX}{name}"),
                format!("{ATTACH_PREFIX}{name}"),
            )
        })
        .collect();
    let wanted: Vec<(Kind, &str)> = spelled
        .iter()
        .flat_map(|(ctx, func)| [(Kind::Struct, ctx.as_str()), (Kind::Func, func.as_str())])
        .collect();
    let found = btf.find_many(&wanted);
    names
        .iter()
        .enumerate()
        .map(|(i, name)| match found[2 * i] {
            Some(ctx) if !name.ends_with(TRUSTED_SUFFIX) => {
                build_target(btf, name, ctx, found[2 * i + 1]).map(Some)
            }
            _ => Ok(None),
        })
        .collect()
}

fn build_target(
    btf: &Btf,
    name: &str,
    ctx: TypeId,
    attach_func: Option<TypeId>,
) -> Result<IterTarget, BtfError> {
    let mut context = Vec::new();
    let mut meta = None;
    for member in btf.members(ctx)? {
        if member.name == "meta" {
            meta = meta::from_member(btf, member.bit_offset / 8, member.type_id)?;
            continue;
        }
        let resolved = btf.resolve(member.type_id)?;
        let pointee = match btf.get(resolved)? {
            BtfType::Ptr { target } => Some(btf.resolve(target)?),
            _ => None,
        };
        context.push(CtxField {
            name: member.name.to_string(),
            byte_offset: member.bit_offset / 8,
            type_id: member.type_id,
            pointee,
            type_name: type_name(btf, member.type_id),
        });
    }
    let is_struct_pointer = |field: &CtxField| {
        field
            .pointee
            .is_some_and(|pointee| matches!(btf.kind_of(pointee), Ok(Some(Kind::Struct))))
    };
    let element = facts_of(name)
        .final_null_field
        .and_then(|wanted| context.iter().position(|field| field.name == wanted));
    let main_object = element
        .filter(|&index| is_struct_pointer(&context[index]))
        .or_else(|| context.iter().position(is_struct_pointer));
    let final_null = element.or(main_object);
    Ok(IterTarget {
        name: name.to_string(),
        ctx_struct: ctx,
        attach_func,
        context,
        main_object,
        final_null,
        meta,
        transport: facts_of(name).transport,
    })
}
