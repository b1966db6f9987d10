//! Stage `plan`, for `bpf_sk_storage_map` on a kernel that refuses map-element programs: the rows
//! come from one program per socket iterator (tcp, udp, unix, netlink) that calls `bpf_sk_storage_get` on each
//! socket. Guarantees: chosen exactly when the target is `bpf_sk_storage_map`, a map is named and
//! `KernelFeatures::map_elem_programs` is false; the query stays bound against
//! `struct bpf_iter__bpf_sk_storage_map` (no second binder): each program gives its context
//! fields `sk` and `value` the iterator's socket and the helper's result (`lower::lower_sockets`),
//! skipping sockets that hold no value, so its rows are the map-element program's rows, column
//! for column, in the same `RowLayout`; a query that reads any other context field (`map`) is
//! E0304 naming it; text output (`pin`, `compile`) is E0304.

use crate::bind::{BoundTarget, IterParams, MapParam, TExpr};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::plan::Plan;
use bpfq_kernel::catalogue::{find_targets, IterTarget, RowTransport};
use bpfq_kernel::{Btf, KernelFeatures};

/// The target whose rows socket iterators can give.
pub const TARGET: &str = "bpf_sk_storage_map";

/// How a socket iterator's context pointer becomes the `struct sock *` that
/// `bpf_sk_storage_get` takes (the verifier wants a BTF pointer whose first member, at any
/// depth, is a `struct sock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketFrom {
    /// Already one (udp's `struct udp_sock *udp_sk`, unix's `struct unix_sock *unix_sk` and
    /// netlink's `struct netlink_sock *sk` start with their `struct sock`).
    Itself,
    /// `bpf_skc_to_tcp_sock` of it (tcp's `struct sock_common *sk_common`, which may be a
    /// request or time-wait socket: those hold no storage and are skipped).
    SkcToTcpSock,
}

/// The socket iterators tried, in the order their rows are read.
const SOCKET_ITERATORS: [(&str, SocketFrom); 4] = [
    ("tcp", SocketFrom::SkcToTcpSock),
    ("udp", SocketFrom::Itself),
    ("unix", SocketFrom::Itself),
    ("netlink", SocketFrom::Itself),
];

/// One socket iterator's program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketIterator {
    /// The tcp, udp, unix or netlink target: attach function, `meta`, and as object the socket pointer.
    pub target: BoundTarget,
    pub socket_from: SocketFrom,
}

/// The plan's choice to read a `bpf_sk_storage_map` query's rows through socket iterators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketIterators {
    /// The sk_storage map (its fd is `ir::MapRef::SkStorage`, patched in by the runtime).
    pub map: MapParam,
    /// The socket iterators this kernel has, in reading order.
    pub iterators: Vec<SocketIterator>,
    /// Offsets of `sk` and `value` in `struct bpf_iter__bpf_sk_storage_map`, where the query
    /// reads them.
    pub sk_offset: Option<u32>,
    pub value_offset: Option<u32>,
    /// Why there is no map-element program, for `explain` ("probed: ...").
    pub why: String,
}

impl SocketIterators {
    /// "tcp, udp, unix and netlink".
    pub fn names(&self) -> String {
        let names: Vec<&str> = self
            .iterators
            .iter()
            .map(|i| i.target.name.as_str())
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

fn refused(features: &KernelFeatures) -> String {
    format!(
        "this kernel refuses programs on map-element iterators ({})",
        features.why.map_elem_programs
    )
}

/// The socket iterators for `plan`, when its rows must come from them: `bpf_sk_storage_map`
/// on a kernel whose features say map-element programs are refused. None otherwise.
pub fn choose(
    plan: &Plan,
    btf: &Btf,
    features: &KernelFeatures,
) -> Result<Option<SocketIterators>, Diagnostic> {
    if plan.target.name != TARGET || features.map_elem_programs {
        return Ok(None);
    }
    let Some(IterParams::Map(map)) = &plan.iter_params else {
        return Ok(None);
    };
    let span = plan
        .kernel
        .columns
        .first()
        .map(|c| c.expr.span)
        .unwrap_or_default();
    // The bound columns name the context fields they read (`TKind::CtxField`): `sk` and
    // `value` are given their values by the socket programs; anything else (`map`) cannot be.
    let (mut sk_offset, mut value_offset) = (None, None);
    for expr in plan
        .kernel
        .columns
        .iter()
        .map(|c| &c.expr)
        .chain(plan.kernel.filter.as_ref())
    {
        let mut fields = Vec::new();
        ctx_fields(expr, &mut fields);
        for (name, offset) in fields {
            match name {
                "sk" => sk_offset = Some(offset),
                "value" => value_offset = Some(offset),
                _ => {
                    return Err(Diagnostic::error(
                        codes::MAP_ELEM_PROGRAM_REFUSED,
                        format!(
                            "{}: bpfq reads sk_storage through the socket iterators instead, \
                             which see only the socket and its value",
                            refused(features)
                        ),
                    )
                    .with_primary(expr.span, format!("reads `{name}` of the iterator context"))
                    .with_note("select and filter on the socket (`sk`) and its value only"))
                }
            }
        }
    }
    let names: Vec<&str> = SOCKET_ITERATORS.iter().map(|(name, _)| *name).collect();
    let found = find_targets(btf, &names).map_err(|e| {
        Diagnostic::error(codes::MALFORMED_BTF, format!("malformed BTF: {e}"))
            .with_primary(span, "while planning this")
    })?;
    let mut iterators = Vec::new();
    for (target, (_, socket_from)) in found.into_iter().zip(SOCKET_ITERATORS) {
        if let Some(target) = target.and_then(|t| socket_target(t, features)) {
            iterators.push(SocketIterator {
                target,
                socket_from,
            });
        }
    }
    if iterators.is_empty() {
        return Err(Diagnostic::error(
            codes::MAP_ELEM_PROGRAM_REFUSED,
            format!(
                "{} and it has no tcp, udp, unix or netlink iterator to read the sockets with",
                refused(features)
            ),
        )
        .with_primary(span, "needs a program on the map's elements"));
    }
    Ok(Some(SocketIterators {
        map: map.clone(),
        iterators,
        sk_offset,
        value_offset,
        why: features.why.map_elem_programs.to_string(),
    }))
}

/// The bound target of a socket iterator (None without `meta`, attach function or socket).
fn socket_target(target: IterTarget, features: &KernelFeatures) -> Option<BoundTarget> {
    let meta = target.meta?;
    let object = &target.context[target.final_null?];
    Some(BoundTarget {
        name: target.name.clone(),
        ctx_struct: target.ctx_struct,
        ctx_struct_name: format!("bpf_iter__{}", target.name),
        attach_func: target.attach_func?,
        meta_offset: meta.meta_offset,
        seq_offset: meta.seq_offset,
        seq_num_offset: meta.seq_num_offset,
        object_offset: object.byte_offset,
        object_field: object.name.clone(),
        // tcp and udp write to the seq buffer; unix to a ring buffer (its seq output loses
        // objects), where the kernel has one (`catalogue::row_transport`).
        transport: match features.ringbuf {
            true => target.transport,
            false => RowTransport::Seq,
        },
    })
}

/// E0304 for `bpfq pin` / `bpfq compile` of a query whose rows come from socket iterators.
pub fn nothing_to_pin(features: &KernelFeatures, span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::MAP_ELEM_PROGRAM_REFUSED,
        format!(
            "{}: there is no bpf_sk_storage_map program to pin or compile",
            refused(features)
        ),
    )
    .with_primary(
        span,
        "its rows come from several socket iterator programs here",
    )
    .with_note(
        "run the query instead: `bpfq QUERY` reads the socket iterators with \
         bpf_sk_storage_get",
    )
}

/// The context fields `expr` reads, by name and offset.
fn ctx_fields<'e>(expr: &'e TExpr, out: &mut Vec<(&'e str, u32)>) {
    crate::lower::visit_ctx_fields(expr, &mut |name, offset| out.push((name, offset)));
}
