//! Stage `bind`: iterator parameters — `task(pid = 42)` and friends — checked against what each
//! target's link info accepts, and `where pid == N` on a task target turned into the same
//! parameter so the kernel visits only that process (the filter still runs, so results are the
//! same either way).

use super::{quote_list, Binder, CmpOp, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Span};
use crate::syntax::ast::{Expr, Ident};
use bpfq_kernel::catalogue::{facts_of, ParamKind};

/// What the iterator link is created with (`union bpf_iter_link_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IterParams {
    /// Only the threads of process `pid` (task, task_file, task_vma).
    TaskPid { pid: u32, pushed_down: bool },
    /// Only thread `tid`.
    TaskTid { tid: u32, pushed_down: bool },
    /// The cgroups reached from `start` in `order` (cgroup).
    Cgroup {
        start: CgroupStart,
        order: CgroupOrder,
    },
    /// A network target read in another network namespace (no link info: the namespace is the
    /// one current when the iterator is created).
    Netns(NetnsRef),
    /// The elements of one map (bpf_map_elem, bpf_sk_storage_map, sockmap): the link info is
    /// the fd of the map, opened by the caller (`MapParam::link_info`).
    Map(super::MapParam),
}

/// A network namespace: that of a process, or a namespace file (`/run/netns/NAME`); or all of
/// them (`netns = all`: one iterator in each namespace of the machine, rows concatenated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetnsRef {
    Pid(u32),
    Path(String),
    All,
}

impl NetnsRef {
    /// The file that names the namespace; `None` for `All`, which the runtime enumerates.
    pub fn path(&self) -> Option<String> {
        match self {
            NetnsRef::Pid(pid) => Some(format!("/proc/{pid}/ns/net")),
            NetnsRef::Path(path) => Some(path.clone()),
            NetnsRef::All => None,
        }
    }
}

/// Targets that show one network namespace.
fn is_net_target(target: &str) -> bool {
    facts_of(target).params == ParamKind::Netns
}

/// Where a cgroup walk starts: a path under the cgroup2 mount (resolved to its id, the
/// directory's inode number, when the link is created) or an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupStart {
    Path(String),
    Id(u64),
}

/// `enum bpf_cgroup_iter_order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupOrder {
    SelfOnly = 1,
    DescendantsPre = 2,
    DescendantsPost = 3,
    AncestorsUp = 4,
}

const CGROUP_ORDERS: [(&str, CgroupOrder); 4] = [
    ("self_only", CgroupOrder::SelfOnly),
    ("descendants_pre", CgroupOrder::DescendantsPre),
    ("descendants_post", CgroupOrder::DescendantsPost),
    ("ancestors_up", CgroupOrder::AncestorsUp),
];

/// The id of the cgroup2 hierarchy's root (its kernfs root node): where a walk starts by default.
pub const CGROUP2_ROOT_ID: u64 = 1;

impl IterParams {
    /// The bytes of `union bpf_iter_link_info` for the link-create call; `cgroup_id_of` turns a
    /// cgroup path into its id (I/O, done by the caller).
    pub fn link_info(
        &self,
        cgroup_id_of: &dyn Fn(&str) -> Result<u64, String>,
    ) -> Result<Option<Vec<u8>>, String> {
        if matches!(self, IterParams::Netns(_)) {
            return Ok(None);
        }
        if let IterParams::Map(param) = self {
            return Err(format!(
                "{} must be opened first: its link info is an open fd",
                param.map
            ));
        }
        if let IterParams::Cgroup { start, order } = self {
            // struct { __u32 order; __u32 cgroup_fd; __u64 cgroup_id; } cgroup;
            let id = match start {
                CgroupStart::Id(id) => *id,
                CgroupStart::Path(path) => cgroup_id_of(path)?,
            };
            let mut bytes = (*order as u32).to_ne_bytes().to_vec();
            bytes.extend_from_slice(&0u32.to_ne_bytes());
            bytes.extend_from_slice(&id.to_ne_bytes());
            return Ok(Some(bytes));
        }
        Ok(Some(self.task_link_info()))
    }

    fn task_link_info(&self) -> Vec<u8> {
        // struct { __u32 tid; __u32 pid; __u32 pid_fd; } task;
        let (tid, pid) = match self {
            IterParams::TaskPid { pid, .. } => (0, *pid),
            IterParams::TaskTid { tid, .. } => (*tid, 0),
            IterParams::Cgroup { .. } | IterParams::Netns(_) | IterParams::Map(_) => (0, 0),
        };
        [tid, pid, 0].iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    /// For `explain`.
    pub fn describe(&self) -> String {
        let (what, source) = match self {
            IterParams::TaskPid { pid, pushed_down } => (
                format!("pid = {pid}: only this process's threads"),
                *pushed_down,
            ),
            IterParams::TaskTid { tid, pushed_down } => {
                (format!("tid = {tid}: only this thread"), *pushed_down)
            }
            IterParams::Cgroup { start, order } => {
                let order = CGROUP_ORDERS
                    .iter()
                    .find(|(_, o)| o == order)
                    .map_or("?", |(n, _)| *n);
                let start = match start {
                    CgroupStart::Path(p) => format!("path = {p:?}"),
                    CgroupStart::Id(id) => format!("id = {id}"),
                };
                (format!("cgroups from {start}, order = {order}"), false)
            }
            IterParams::Netns(ns) => match ns.path() {
                Some(path) => (format!("the network namespace of {path}"), false),
                None => (
                    "every network namespace (/proc/*/ns/net and /run/netns/*, each once by \
                     inode): one iterator created in each, rows concatenated"
                        .to_string(),
                    false,
                ),
            },
            IterParams::Map(param) => (param.describe(), false),
        };
        if source {
            format!("{what} (from the where clause)")
        } else {
            what
        }
    }
}

/// Targets whose link info is `task`.
fn is_task_target(target: &str) -> bool {
    facts_of(target).params == ParamKind::Task
}

impl Binder<'_> {
    /// `from cgroup(path = "...", id = N, order = descendants_pre)`; without parameters the
    /// whole cgroup2 hierarchy from its root, parents first.
    pub(super) fn bind_cgroup_params(
        &mut self,
        params: &[(Ident, Expr)],
    ) -> Result<IterParams, Diagnostic> {
        let mut start = CgroupStart::Id(CGROUP2_ROOT_ID);
        let mut order = CgroupOrder::DescendantsPre;
        for (name, value) in params {
            match name.name.as_str() {
                "path" => {
                    let bound = self.bind_expr(value)?;
                    let TKind::Str(text) = bound.kind else {
                        return Err(Diagnostic::error(
                            codes::BAD_PARAMETER,
                            "`path` is a string: a directory of the cgroup2 hierarchy",
                        )
                        .with_primary(value.span, format!("this is {}", bound.ty.a())));
                    };
                    start = CgroupStart::Path(String::from_utf8_lossy(&text).into_owned());
                }
                "id" => {
                    let bound = self.bind_expr(value)?;
                    let TKind::Int(id) = bound.kind else {
                        return Err(Diagnostic::error(
                            codes::BAD_PARAMETER,
                            "`id` is a cgroup id (an integer constant)",
                        )
                        .with_primary(value.span, format!("this is {}", bound.ty.a())));
                    };
                    start = CgroupStart::Id(id);
                }
                "order" => {
                    let word = match &value.kind {
                        crate::syntax::ast::ExprKind::Path(segments) => match segments.as_slice() {
                            [crate::syntax::ast::PathSegment::Field(ident)] => {
                                Some(ident.name.clone())
                            }
                            _ => None,
                        },
                        crate::syntax::ast::ExprKind::Str(text) => Some(text.clone()),
                        _ => None,
                    };
                    let names: Vec<&str> = CGROUP_ORDERS.iter().map(|(n, _)| *n).collect();
                    order = word
                        .as_deref()
                        .and_then(|w| CGROUP_ORDERS.iter().find(|(n, _)| *n == w))
                        .map(|(_, o)| *o)
                        .ok_or_else(|| {
                            Diagnostic::error(codes::BAD_PARAMETER, "unknown cgroup walk order")
                                .with_primary(value.span, "not an order")
                                .with_note(format!("one of {}", quote_list(&names)))
                        })?;
                }
                other => {
                    let near = nearest_names(other, ["path", "id", "order"], 2);
                    let mut diag = Diagnostic::error(
                        codes::BAD_PARAMETER,
                        format!("target `cgroup` has no parameter `{other}`"),
                    )
                    .with_primary(name.span, "unknown parameter")
                    .with_note("it takes `path`, `id` and `order`");
                    if !near.is_empty() {
                        diag = diag.with_note(format!("did you mean {}?", quote_list(&near)));
                    }
                    return Err(diag);
                }
            }
        }
        Ok(IterParams::Cgroup { start, order })
    }

    /// `from tcp(netns = PID | "/run/netns/NAME" | all)`.
    fn bind_netns_param(&mut self, params: &[(Ident, Expr)]) -> Result<IterParams, Diagnostic> {
        let (name, value) = &params[0];
        if name.name != "netns" || params.len() > 1 {
            let at = if name.name != "netns" {
                name.span
            } else {
                params[1].0.span
            };
            return Err(Diagnostic::error(
                codes::BAD_PARAMETER,
                format!("target `{}` takes one parameter, `netns`", self.target.name),
            )
            .with_primary(at, "not a parameter of this target")
            .with_note("netns = PID (that process's namespace), netns = \"/run/netns/NAME\" or netns = all"));
        }
        if is_word(value, "all") {
            return Ok(IterParams::Netns(NetnsRef::All));
        }
        let bound = self.bind_expr(value)?;
        match bound.kind {
            TKind::Int(pid) if pid > 0 && pid <= u64::from(u32::MAX) => {
                Ok(IterParams::Netns(NetnsRef::Pid(pid as u32)))
            }
            TKind::Str(path) => Ok(IterParams::Netns(NetnsRef::Path(
                String::from_utf8_lossy(&path).into_owned(),
            ))),
            _ => Err(Diagnostic::error(
                codes::BAD_PARAMETER,
                "`netns` is a process id, a namespace file path or `all`",
            )
            .with_primary(value.span, format!("this is {}", bound.ty.a()))),
        }
    }

    /// Checks `from target(name = value, ...)`.
    pub(super) fn bind_params(
        &mut self,
        params: &[(Ident, Expr)],
        span: Span,
    ) -> Result<Option<IterParams>, Diagnostic> {
        let target = self.target.name.clone();
        if facts_of(&target).params == ParamKind::Cgroup {
            return self.bind_cgroup_params(params).map(Some);
        }
        if is_net_target(&target) && !params.is_empty() {
            return self.bind_netns_param(params).map(Some);
        }
        let Some((first, _)) = params.first() else {
            return Ok(None);
        };
        if !is_task_target(&target) {
            return Err(Diagnostic::error(codes::UNSUPPORTED, format!("parameters of target `{target}` are not supported yet"))
                .with_primary(first.span, "not supported yet")
                .with_note("task, task_file and task_vma take `pid` or `tid`, cgroup takes `path`, `id` and `order`, network targets take `netns`; other targets' parameters are planned in the iterator-targets issue (#4)"));
        }
        if params.len() > 1 {
            return Err(Diagnostic::error(
                codes::BAD_PARAMETER,
                "give one of `pid` or `tid`, not both",
            )
            .with_primary(params[1].0.span, "a second parameter")
            .with_secondary(span, "the kernel iterates one process or one thread"));
        }
        let (name, value) = &params[0];
        let bound = self.bind_expr(value)?;
        let number = match (&bound.kind, bound.ty.is_integer()) {
            (TKind::Int(v), true) => u32::try_from(*v).ok().filter(|v| *v > 0),
            _ => None,
        }
        .ok_or_else(|| {
            Diagnostic::error(
                codes::BAD_PARAMETER,
                format!("`{}` must be a positive integer constant", name.name),
            )
            .with_primary(value.span, format!("this is {}", bound.ty.a()))
        })?;
        match name.name.as_str() {
            "pid" => Ok(Some(IterParams::TaskPid {
                pid: number,
                pushed_down: false,
            })),
            "tid" => Ok(Some(IterParams::TaskTid {
                tid: number,
                pushed_down: false,
            })),
            other => {
                let near = nearest_names(other, ["pid", "tid"], 2);
                let mut diag = Diagnostic::error(
                    codes::BAD_PARAMETER,
                    format!("target `{target}` has no parameter `{other}`"),
                )
                .with_primary(name.span, "unknown parameter")
                .with_note("it takes `pid` (a process) or `tid` (a thread)");
                if !near.is_empty() {
                    diag = diag.with_note(format!("did you mean {}?", quote_list(&near)));
                }
                Err(diag)
            }
        }
    }

    /// `task(pid = N)` / `task(tid = N)` as the condition `pid == N` / `tid == N`, ANDed into
    /// `filter`, for kernels whose task iterators take no link parameters (before 6.1); other
    /// parameters are returned as they are.
    pub(super) fn task_params_as_filter(
        &mut self,
        params: Option<IterParams>,
        filter: Option<TExpr>,
        span: Span,
    ) -> Result<(Option<IterParams>, Option<TExpr>), Diagnostic> {
        let (column, value) = match &params {
            Some(IterParams::TaskPid { pid, .. }) => ("pid", *pid),
            Some(IterParams::TaskTid { tid, .. }) => ("tid", *tid),
            _ => return Ok((params, filter)),
        };
        let Some(field) = self.bind_column_by_name(column, span)? else {
            return Err(Diagnostic::error(
                codes::BAD_PARAMETER,
                format!(
                    "`{column}` cannot be a parameter of `{}` on this kernel",
                    self.target.name
                ),
            )
            .with_primary(span, "here")
            .with_note("task iterators take a process in their link only from Linux 6.1 on, and this target has no such column to filter on"));
        };
        let signed = field.ty.is_signed();
        let literal = TExpr {
            kind: TKind::Int(u64::from(value)),
            ty: field.ty.clone(),
            span,
        };
        let condition = TExpr {
            kind: TKind::Compare {
                op: CmpOp::Eq,
                lhs: Box::new(field),
                rhs: Box::new(literal),
                signed,
            },
            ty: Ty::Bool,
            span,
        };
        let filter = match filter {
            Some(user) => TExpr {
                kind: TKind::And(Box::new(condition), Box::new(user)),
                ty: Ty::Bool,
                span,
            },
            None => condition,
        };
        Ok((None, Some(filter)))
    }

    /// `where pid == N and ...` on a task target: the kernel can visit only process N.
    pub(super) fn push_down(&mut self, filter: &TExpr) -> Result<Option<IterParams>, Diagnostic> {
        if !is_task_target(&self.target.name) {
            return Ok(None);
        }
        let span = filter.span;
        // task_file and task_vma have no `tid` column: only `pid` pushes down there.
        let tgid = self.bind_column_by_name("pid", span)?;
        let pid = self.bind_column_by_name("tid", span)?;
        let mut conjuncts = Vec::new();
        conjuncts_of(filter, &mut conjuncts);
        for conjunct in conjuncts {
            let TKind::Compare {
                op: CmpOp::Eq,
                lhs,
                rhs,
                ..
            } = &conjunct.kind
            else {
                continue;
            };
            let (field, value) = match (&lhs.kind, &rhs.kind) {
                (_, TKind::Int(v)) => (lhs, *v),
                (TKind::Int(v), _) => (rhs, *v),
                _ => continue,
            };
            let Ok(value) = u32::try_from(value) else {
                continue;
            };
            if value == 0 {
                continue;
            }
            if tgid.as_ref().is_some_and(|tgid| same_load(field, tgid)) {
                return Ok(Some(IterParams::TaskPid {
                    pid: value,
                    pushed_down: true,
                }));
            }
            if pid.as_ref().is_some_and(|pid| same_load(field, pid)) {
                return Ok(Some(IterParams::TaskTid {
                    tid: value,
                    pushed_down: true,
                }));
            }
        }
        Ok(None)
    }
}

/// Whether `expr` is the bare name `word` (a keyword-like parameter value such as `all`).
fn is_word(expr: &Expr, word: &str) -> bool {
    use crate::syntax::ast::{ExprKind, PathSegment};
    matches!(&expr.kind, ExprKind::Path(segments)
        if matches!(segments.as_slice(), [PathSegment::Field(ident)] if ident.name == word))
}

/// The conjuncts of an `and` chain.
fn conjuncts_of<'e>(expr: &'e TExpr, out: &mut Vec<&'e TExpr>) {
    match &expr.kind {
        TKind::And(a, b) => {
            conjuncts_of(a, out);
            conjuncts_of(b, out);
        }
        _ => out.push(expr),
    }
}

/// Whether two expressions load the same context field member (spans and types aside).
fn same_load(a: &TExpr, b: &TExpr) -> bool {
    match (&a.kind, &b.kind) {
        (
            TKind::Load {
                ptr: pa,
                offset: oa,
                bytes: ba,
                bitfield: None,
                ..
            },
            TKind::Load {
                ptr: pb,
                offset: ob,
                bytes: bb,
                bitfield: None,
                ..
            },
        ) => {
            oa == ob
                && ba == bb
                && matches!((&pa.kind, &pb.kind), (TKind::CtxField { offset: x, .. }, TKind::CtxField { offset: y, .. }) if x == y)
                && matches!(a.ty, Ty::Int { .. })
        }
        _ => false,
    }
}
