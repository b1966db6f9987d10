//! Stage `bind`: iterator parameters — `task(pid = 42)` and friends — checked against what each
//! target's link info accepts, and `where pid == N` on a task target turned into the same
//! parameter so the kernel visits only that process (the filter still runs, so results are the
//! same either way).

use super::{internal, quote_list, Binder, CmpOp, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Span};
use crate::syntax::ast::{Expr, Ident};

/// What the iterator link is created with (`union bpf_iter_link_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IterParams {
    /// Only the threads of process `pid` (task, task_file, task_vma).
    TaskPid { pid: u32, pushed_down: bool },
    /// Only thread `tid`.
    TaskTid { tid: u32, pushed_down: bool },
}

impl IterParams {
    /// The bytes of `union bpf_iter_link_info` for the link-create call.
    pub fn link_info(&self) -> Vec<u8> {
        // struct { __u32 tid; __u32 pid; __u32 pid_fd; } task;
        let (tid, pid) = match self {
            IterParams::TaskPid { pid, .. } => (0, *pid),
            IterParams::TaskTid { tid, .. } => (*tid, 0),
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
    matches!(target, "task" | "task_file" | "task_vma")
}

impl Binder<'_> {
    /// Checks `from target(name = value, ...)`.
    pub(super) fn bind_params(
        &mut self,
        params: &[(Ident, Expr)],
        span: Span,
    ) -> Result<Option<IterParams>, Diagnostic> {
        let Some((first, _)) = params.first() else {
            return Ok(None);
        };
        let target = self.target.name.clone();
        if !is_task_target(&target) {
            return Err(Diagnostic::error(codes::UNSUPPORTED, format!("parameters of target `{target}` are not supported yet"))
                .with_primary(first.span, "not supported yet")
                .with_note("task, task_file and task_vma take `pid` or `tid`; other targets' parameters are planned in the iterator-targets issue (#4)"));
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

    /// `where pid == N and ...` on a task target: the kernel can visit only process N.
    pub(super) fn push_down(&mut self, filter: &TExpr) -> Result<Option<IterParams>, Diagnostic> {
        if !is_task_target(&self.target.name) {
            return Ok(None);
        }
        let span = filter.span;
        let tgid = self
            .bind_column_by_name("pid", span)?
            .ok_or_else(|| internal(span, "stdlib column pid"))?;
        let pid = self
            .bind_column_by_name("tid", span)?
            .ok_or_else(|| internal(span, "stdlib column tid"))?;
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
            if same_load(field, &tgid) {
                return Ok(Some(IterParams::TaskPid {
                    pid: value,
                    pushed_down: true,
                }));
            }
            if same_load(field, &pid) {
                return Ok(Some(IterParams::TaskTid {
                    tid: value,
                    pushed_down: true,
                }));
            }
        }
        Ok(None)
    }
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
