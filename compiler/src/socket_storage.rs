//! Stage `plan`, for `bpf_sk_storage_map` and `sockmap` on a kernel that refuses map-element
//! programs: the rows come from one program per socket iterator (tcp, udp, unix, and netlink for
//! sk_storage) that finds each socket's element: `bpf_sk_storage_get` for sk_storage; for a
//! sockmap, the socket's cookie looked up in a cookie -> key map that user space fills from the
//! sockmap (whose lookups from user space answer cookies). Guarantees: chosen exactly when the
//! target is one of those two, a map is named and `KernelFeatures::map_elem_programs` is false;
//! the query stays bound against the map-element context (no second binder): each program gives
//! its context fields `sk` and `value` (sk_storage) or `key` (sockmap) the iterator's socket and
//! the lookup's result (`lower::lower_sockets`), skipping sockets not in the map, so its rows are
//! the map-element program's rows, column for column, in the same `RowLayout`; a query that
//! reads any other context field (`map`) is E0304 naming it; text output (`pin`, `compile`) is
//! E0304; a sockmap whose values are not 8 bytes (no cookies for user space) is E0305.

use crate::bind::{BoundTarget, IterParams, MapParam, TExpr};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use bpfq_kernel::btf::Kind;
use bpfq_kernel::catalogue::{find_targets, IterTarget, RowTransport};
use bpfq_kernel::{Btf, KernelFeatures};

/// How a socket iterator's context pointer becomes the `struct sock *` the lookup takes (the
/// verifier wants a BTF pointer whose first member, at any depth, is a `struct sock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketFrom {
    /// Already one (udp's `struct udp_sock *udp_sk`, unix's `struct unix_sock *unix_sk` and
    /// netlink's `struct netlink_sock *sk` start with their `struct sock`).
    Itself,
    /// `bpf_skc_to_tcp_sock` of it (tcp's `struct sock_common *sk_common`, which may be a
    /// request or time-wait socket: those are in no sk_storage or sockmap, and are skipped).
    SkcToTcpSock,
}

/// How each socket program finds the socket's element of the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketLookup {
    /// `bpf_sk_storage_get(map, sk, NULL, 0)`: the socket's value (`MapRef::SkStorage`).
    SkStorage,
    /// The socket's cookie, a u64 at `cookie_offset` of its `struct sock`
    /// (`__sk_common.skc_cookie`), looked up in the cookie -> key hash map user space fills from
    /// the sockmap (`MapRef::SocketKeys`): the value found is the socket's key. The field, not
    /// `bpf_get_socket_cookie`: iterator programs may call that helper only from Linux 5.12, and
    /// the field is what the helper returns once a cookie exists, which the user-space lookup
    /// of the sockmap has made sure of for every socket in it (a socket whose cookie is still 0
    /// is in no sockmap that user space read, and matches no key: the map holds no 0 cookie).
    SockmapKey { cookie_offset: u32 },
}

/// One map-element target whose rows socket iterators can give: one record per target.
struct Fallback {
    target: &'static str,
    /// The socket iterators tried, in the order their rows are read: those whose sockets the
    /// map can hold.
    iterators: &'static [(&'static str, SocketFrom)],
    /// The context field the lookup gives (the other being `sk`).
    found: &'static str,
    /// The map's kind, for messages.
    map_kind: &'static str,
    /// The sockets are found by cookie (sockmap), not with `bpf_sk_storage_get`.
    by_cookie: bool,
}

const FALLBACKS: [Fallback; 2] = [
    Fallback {
        target: "bpf_sk_storage_map",
        iterators: &[
            ("tcp", SocketFrom::SkcToTcpSock),
            ("udp", SocketFrom::Itself),
            ("unix", SocketFrom::Itself),
            ("netlink", SocketFrom::Itself),
        ],
        found: "value",
        map_kind: "sk_storage",
        by_cookie: false,
    },
    Fallback {
        target: "sockmap",
        // A sockmap holds TCP, UDP and (Linux 5.15+) unix sockets, never netlink ones.
        iterators: &[
            ("tcp", SocketFrom::SkcToTcpSock),
            ("udp", SocketFrom::Itself),
            ("unix", SocketFrom::Itself),
        ],
        found: "key",
        map_kind: "sockmap",
        by_cookie: true,
    },
];

/// The bytes of a sockmap value that a user-space lookup fills with the socket's cookie (the
/// kernel answers ENOSPC for any other value size).
pub const SOCKMAP_COOKIE_VALUE_SIZE: u32 = 8;

/// One socket iterator's program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketIterator {
    /// The tcp, udp, unix or netlink target: attach function, `meta`, and as object the socket pointer.
    pub target: BoundTarget,
    pub socket_from: SocketFrom,
}

/// The plan's choice to read a `bpf_sk_storage_map` or `sockmap` query's rows through socket
/// iterators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketIterators {
    /// The map named by the query (sk_storage: its fd is `ir::MapRef::SkStorage`, patched in
    /// by the runtime; sockmap: read from user space into `ir::MapRef::SocketKeys`).
    pub map: MapParam,
    pub lookup: SocketLookup,
    /// The socket iterators this kernel has, in reading order.
    pub iterators: Vec<SocketIterator>,
    /// Offsets of `sk` and of the looked-up field (`value`, or a sockmap's `key`) in the
    /// map-element context struct, where the query reads them.
    pub sk_offset: Option<u32>,
    pub found_offset: Option<u32>,
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

    /// How each program finds a socket's element, for `explain` and `doctor`: "calling
    /// bpf_sk_storage_get" or "matching socket cookies ...".
    pub fn how(&self) -> &'static str {
        match self.lookup {
            SocketLookup::SkStorage => "calling bpf_sk_storage_get",
            SocketLookup::SockmapKey { .. } => {
                "matching each socket's cookie with the sockmap's, read from user space"
            }
        }
    }
}

fn refused(features: &KernelFeatures) -> String {
    format!(
        "this kernel refuses programs on map-element iterators ({})",
        features.why.map_elem_programs
    )
}

fn fallback_of(target: &str) -> Option<&'static Fallback> {
    FALLBACKS.iter().find(|f| f.target == target)
}

/// The socket iterators for a plan (its target, parameters, and the kernel columns' and
/// filter's expressions `exprs`), when its rows must come from them: `bpf_sk_storage_map` or
/// `sockmap` on a kernel whose features say map-element programs are refused. None otherwise.
/// `span` is the query's, for what concerns the map as a whole.
pub fn choose<'e>(
    target: &str,
    iter_params: Option<&IterParams>,
    exprs: impl IntoIterator<Item = &'e TExpr>,
    span: Span,
    btf: &Btf,
    features: &KernelFeatures,
) -> Result<Option<SocketIterators>, Diagnostic> {
    let Some(fallback) = fallback_of(target) else {
        return Ok(None);
    };
    if features.map_elem_programs {
        return Ok(None);
    }
    let Some(IterParams::Map(map)) = iter_params else {
        return Ok(None);
    };
    // The bound columns name the context fields they read (`TKind::CtxField`): `sk` and the
    // looked-up field are given their values by the socket programs; anything else (`map`)
    // cannot be.
    let (mut sk_offset, mut found_offset) = (None, None);
    for expr in exprs {
        let mut fields = Vec::new();
        ctx_fields(expr, &mut fields);
        for (name, offset) in fields {
            if name == "sk" {
                sk_offset = Some(offset);
            } else if name == fallback.found {
                found_offset = Some(offset);
            } else {
                return Err(Diagnostic::error(
                    codes::MAP_ELEM_PROGRAM_REFUSED,
                    format!(
                        "{}: bpfq reads the {} through the socket iterators instead, which see \
                         only the socket and its {}",
                        refused(features),
                        fallback.map_kind,
                        fallback.found
                    ),
                )
                .with_primary(expr.span, format!("reads `{name}` of the iterator context"))
                .with_note(format!(
                    "select and filter on the socket (`sk`) and its {} only",
                    fallback.found
                )));
            }
        }
    }
    let lookup = match fallback.by_cookie {
        true => SocketLookup::SockmapKey {
            cookie_offset: cookie_offset(map, btf, features, span)?,
        },
        false => SocketLookup::SkStorage,
    };
    let names: Vec<&str> = fallback.iterators.iter().map(|(name, _)| *name).collect();
    let found = find_targets(btf, &names).map_err(|e| malformed(e, span))?;
    let mut iterators = Vec::new();
    for (target, (_, socket_from)) in found.into_iter().zip(fallback.iterators) {
        if let Some(target) = target.and_then(|t| socket_target(t, features)) {
            iterators.push(SocketIterator {
                target,
                socket_from: *socket_from,
            });
        }
    }
    if iterators.is_empty() {
        return Err(Diagnostic::error(
            codes::MAP_ELEM_PROGRAM_REFUSED,
            format!(
                "{} and it has no {} iterator to read the sockets with",
                refused(features),
                names.join(" or ")
            ),
        )
        .with_primary(span, "needs a program on the map's elements"));
    }
    Ok(Some(SocketIterators {
        map: map.clone(),
        lookup,
        iterators,
        sk_offset,
        found_offset,
        why: features.why.map_elem_programs.to_string(),
    }))
}

fn malformed(e: impl std::fmt::Display, span: Span) -> Diagnostic {
    Diagnostic::error(codes::MALFORMED_BTF, format!("malformed BTF: {e}"))
        .with_primary(span, "while planning this")
}

/// Where a socket's cookie is in its `struct sock` (`__sk_common.skc_cookie`), after checking
/// that user space can read the sockmap's cookies at all (8-byte values, else E0305).
fn cookie_offset(
    map: &MapParam,
    btf: &Btf,
    features: &KernelFeatures,
    span: Span,
) -> Result<u32, Diagnostic> {
    if map.shape.value_size != SOCKMAP_COOKIE_VALUE_SIZE {
        return Err(Diagnostic::error(
            codes::SOCKMAP_WITHOUT_COOKIES,
            format!(
                "cannot read the sockets of {}: this kernel refuses programs on map-element \
                 iterators such as sockmap ({}), and the map's values are {} bytes, which do not \
                 give user space its sockets",
                map.map, features.why.map_elem_programs, map.shape.value_size
            ),
        )
        .with_primary(
            span,
            format!(
                "reads a sockmap of {}-byte values, whose lookups give no cookie",
                map.shape.value_size
            ),
        )
        .with_note(
            "without a program on the sockmap, bpfq looks its slots up from user space; the \
             kernel answers such a lookup with the socket's cookie only when the map was created \
             with 8-byte (u64) values",
        )
        .with_note(
            "a sockmap or sockhash created with value size 8 can be read (its updates take the \
             socket's fd as a u64)",
        ));
    }
    let member = |owner: &str, name: &str| -> Result<u32, Diagnostic> {
        let id = btf.find(Kind::Struct, owner);
        let member = match id {
            Some(id) => btf.member(id, name).map_err(|e| malformed(e, span))?,
            None => None,
        };
        member.map(|m| m.bit_offset / 8).ok_or_else(|| {
            Diagnostic::error(
                codes::MAP_ELEM_PROGRAM_REFUSED,
                format!(
                    "{}, and its BTF has no `struct {owner}` member `{name}` to find a \
                     socket's cookie with",
                    refused(features)
                ),
            )
            .with_primary(span, "needs a program on the sockmap's elements")
        })
    };
    Ok(member("sock", "__sk_common")? + member("sock_common", "skc_cookie")?)
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
        // objects), where the kernel has one (`TargetFacts::transport`).
        transport: match features.ringbuf {
            true => target.transport,
            false => RowTransport::Seq,
        },
    })
}

/// E0304 for `bpfq pin` / `bpfq compile` of a query whose rows come from socket iterators.
pub fn nothing_to_pin(target: &str, features: &KernelFeatures, span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::MAP_ELEM_PROGRAM_REFUSED,
        format!(
            "{}: there is no {target} program to pin or compile",
            refused(features)
        ),
    )
    .with_primary(
        span,
        "its rows come from several socket iterator programs here",
    )
    .with_note(
        "run the query instead: `bpfq QUERY` reads the map's sockets through the socket \
         iterators",
    )
}

/// The context fields `expr` reads, by name and offset.
fn ctx_fields<'e>(expr: &'e TExpr, out: &mut Vec<(&'e str, u32)>) {
    expr.visit_ctx_fields(&mut |name, offset| out.push((name, offset)));
}
