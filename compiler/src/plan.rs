//! Stage `plan`: splits a typed query into the part the BPF program runs in the kernel (filter
//! and projection) and the part user space runs over the rows (grouping and aggregates, having,
//! sort, limit, hiding sort-only columns), and decides everything about where work happens:
//! where the rows come from (`RowsFrom`), their layout, where a grouping runs (`GroupPlace`) and
//! how a row leaves the program (`RowExit`). Guarantees: the kernel part alone decides which
//! objects produce rows; no later stage changes a plan.

use crate::bind::{
    BoundTarget, Grouping, IterParams, OutputColumn, SortKey, TExpr, TKind, TypedQuery,
};
use crate::codes;
use crate::diagnostic::{Diagnostic, Sources, Span};
use crate::group_place::{place, GroupPlace, KernelGrouping};
use crate::layout::RowLayout;
use crate::map_walk::RowsFrom;
use crate::projection::{refuse_inside, Projection};
use crate::socket_storage::SocketLookup;
use bpfq_kernel::catalogue::RowTransport;
use bpfq_kernel::{Btf, KernelFeatures};

/// What a program writes: binary rows for bpfq to read, or text lines (`bpfq pin`, `compile`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    #[default]
    Rows,
    Text,
}

/// Where a grouped query may group: where the planner finds best, or always in user space
/// (the hidden `--group-in user`, to compare both paths).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupIn {
    #[default]
    Auto,
    User,
}

/// What the caller asks of the plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    pub output: Output,
    pub group_in: GroupIn,
}

impl PlanOptions {
    /// A program that prints text lines, grouping where the planner finds best.
    pub fn text() -> PlanOptions {
        PlanOptions {
            output: Output::Text,
            group_in: GroupIn::Auto,
        }
    }
}

/// What the planner needs besides the typed query.
pub struct PlanEnv<'a> {
    pub sources: &'a Sources,
    pub btf: &'a Btf,
    pub features: &'a KernelFeatures,
    pub options: PlanOptions,
    /// The query's span, for what concerns it as a whole.
    pub span: Span,
}

/// How each row leaves the program of the plan's own target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowExit {
    /// `bpf_seq_write` into the iterator's seq buffer.
    Seq,
    /// `bpf_ringbuf_output` into the row ring (`RowTransport::RingBuf`).
    Ring,
    /// `bpf_seq_printf` of a text line (`Output::Text`).
    Text,
    /// No row: the program updates its group in the kernel group map (`GroupPlace::Kernel`).
    KernelGroups,
    /// The plan's target has no program: the rows come from elsewhere (`RowsFrom`).
    NoProgram,
}

impl RowExit {
    /// How a program writing binary rows through `transport` sends each row.
    pub fn of_transport(transport: RowTransport) -> RowExit {
        match transport {
            RowTransport::Seq => RowExit::Seq,
            RowTransport::RingBuf => RowExit::Ring,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelPart {
    pub filter: Option<TExpr>,
    /// Source text of the filter, for `explain` and instruction notes.
    pub filter_text: Option<String>,
    pub columns: Vec<OutputColumn>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPart {
    /// Group the kernel's rows and compute aggregates first; the result columns are then the
    /// grouping's columns, which `order_by` and `visible` index. (Moving grouping into the
    /// kernel, with a BPF hash map, would move this field to `KernelPart` and leave the rest.)
    pub grouping: Option<Grouping>,
    pub order_by: Vec<SortKey>,
    pub limit: Option<u64>,
    /// Indices of the result columns that are printed, in order.
    pub visible: Vec<usize>,
    /// Drop a last row equal to the one before it (`TargetFacts::repeats_last_row`: iter/ksym).
    pub drop_repeated_last: bool,
    /// The result columns computed from the kernel's row, when a selected value uses a
    /// function computed in user space (`projection::split`); `order_by` and `visible` then
    /// index its columns. None for a grouped query.
    pub projection: Option<Projection>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub target: BoundTarget,
    /// Which objects the kernel visits (iterator link parameters).
    pub iter_params: Option<IterParams>,
    pub kernel: KernelPart,
    pub user: UserPart,
    /// Where a grouped query groups (`group_place::place`): in the kernel, the program updates a
    /// BPF hash map instead of writing rows and user space reads the groups from it;
    /// `user.grouping` still says what the groups mean. None for an ungrouped query.
    pub group_place: Option<GroupPlace>,
    /// Where the rows come from: the program (the default), or a user-space walk of the map
    /// (`map_walk::choose`, when the kernel refuses map-element programs; lowering and emission
    /// are then skipped), or socket iterator programs (`socket_storage::choose`).
    pub rows_from: RowsFrom,
    /// The layout of the rows of the kernel part (`plan_layout::row_layout`).
    pub layout: RowLayout,
    /// How a row leaves the program of the plan's target.
    pub exit: RowExit,
}

fn text(sources: &Sources, span: Span) -> String {
    sources
        .text(span.file)
        .get(span.start as usize..span.end as usize)
        .unwrap_or("")
        .to_string()
}

/// Plans a single-source query.
pub fn plan(query: TypedQuery, env: &PlanEnv) -> Result<Plan, Diagnostic> {
    let filter_in_user_space = query.filter.as_ref().is_some_and(TExpr::in_user_space);
    let (query, projection) = crate::projection::split(query, env.sources)?;
    // The program's part of a filter split with user space: its conditions' own text.
    let filter_text = match filter_in_user_space {
        false => filter_text(&query, env.sources),
        true => query.filter.as_ref().map(|filter| {
            let mut parts = Vec::new();
            let mut rest = vec![filter];
            while let Some(e) = rest.pop() {
                match &e.kind {
                    TKind::And(a, b) => rest.extend([&**b, &**a]),
                    _ => parts.push(text(env.sources, e.span)),
                }
            }
            parts.join(" and ")
        }),
    };
    let mut plan = split(query, filter_text);
    if let Some(projection) = projection {
        // The result columns are the projection's: one for each selected column.
        plan.user.visible = projection
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.hidden)
            .map(|(i, _)| i)
            .collect();
        plan.user.projection = Some(projection);
    }
    complete(plan, env)
}

/// Plans one source of a join, whose filter reads `filter_text` (the part of the join's `where`
/// that concerns this source).
pub fn plan_join_side(
    query: TypedQuery,
    filter_text: Option<String>,
    env: &PlanEnv,
) -> Result<Plan, Diagnostic> {
    let filter_text = match query.target.facts().lists_own_program {
        true => self::filter_text(&query, env.sources),
        false => filter_text,
    };
    for expr in query.columns.iter().map(|c| &c.expr).chain(&query.filter) {
        refuse_inside(
            expr,
            "in a join",
            "run the sources as queries of their own, or select the function's arguments",
        )?;
    }
    complete(split(query, filter_text), env)
}

/// The filter's source text, for `explain` and instruction notes; the own-program filter is
/// ANDed after the user's (see bind::quirks): named in words.
fn filter_text(query: &TypedQuery, sources: &Sources) -> Option<String> {
    match (&query.filter, query.target.facts().lists_own_program) {
        (
            Some(TExpr {
                kind: TKind::And(user, _),
                ..
            }),
            true,
        ) => Some(format!(
            "{} and not bpfq's own program symbol",
            text(sources, user.span)
        )),
        (Some(_), true) => Some("not bpfq's own program symbol".to_string()),
        (filter, false) => filter.as_ref().map(|f| text(sources, f.span)),
        (None, true) => None,
    }
}

/// Where the rows come from, their layout, where a grouping runs and how a row leaves the
/// program.
fn complete(mut plan: Plan, env: &PlanEnv) -> Result<Plan, Diagnostic> {
    let text = env.options.output == Output::Text;
    if let (true, Some(projection)) = (text, &plan.user.projection) {
        let computed = projection
            .filter
            .iter()
            .map(|f| (projection.filter_text.clone().unwrap_or_default(), f.span))
            .chain(
                projection
                    .columns
                    .iter()
                    .filter(|c| !matches!(c.expr.kind, crate::bind::GKind::Key(_)))
                    .map(|c| (c.name.clone(), c.expr.span)),
            )
            .next();
        if let Some((what, span)) = computed {
            return Err(Diagnostic::error(
                codes::USER_FUNCTION_PLACE,
                format!(
                    "`{what}` is computed in user space: a pinned or compiled program prints its rows itself"
                ),
            )
            .with_primary(span, "computed by bpfq after the program has run")
            .with_note("help: select the function's arguments, or run the query with bpfq"));
        }
    }
    let walk = crate::map_walk::choose(
        &plan.target.name,
        plan.iter_params.as_ref(),
        plan.kernel.columns.iter().map(|column| &column.expr),
        plan.kernel.filter.as_ref(),
        env.btf,
        env.features,
    )?;
    if let Some(walk) = walk {
        if text {
            return Err(crate::map_walk::nothing_to_pin(env.features, env.span));
        }
        plan.rows_from = RowsFrom::MapWalk(walk);
    } else if let Some(sockets) = crate::socket_storage::choose(
        &plan.target.name,
        plan.iter_params.as_ref(),
        plan.kernel
            .columns
            .iter()
            .map(|column| &column.expr)
            .chain(plan.kernel.filter.as_ref()),
        env.span,
        env.btf,
        env.features,
    )? {
        if text {
            return Err(crate::socket_storage::nothing_to_pin(
                &plan.target.name,
                env.features,
                env.span,
            ));
        }
        plan.rows_from = RowsFrom::SocketIterators(sockets);
    }
    plan.layout = crate::plan_layout::row_layout(&plan.kernel.columns, env.btf)?;
    plan.group_place = plan.user.grouping.as_ref().map(|grouping| {
        let elsewhere = match &plan.rows_from {
            RowsFrom::Program => None,
            RowsFrom::MapWalk(_) => Some("the rows come from a user-space map walk"),
            RowsFrom::SocketIterators(_) => {
                Some("the rows come from several socket iterator programs")
            }
        };
        match (elsewhere, place(grouping, &plan.layout, &plan.target.name)) {
            (Some(reason), _) => GroupPlace::User {
                reason: reason.into(),
            },
            (None, GroupPlace::Kernel(_)) if env.options.group_in == GroupIn::User => {
                GroupPlace::User {
                    reason: "asked for with --group-in user".into(),
                }
            }
            (None, placed) => placed,
        }
    });
    plan.exit = match (&plan.rows_from, &plan.group_place) {
        (RowsFrom::MapWalk(_) | RowsFrom::SocketIterators(_), _) => RowExit::NoProgram,
        _ if text => RowExit::Text,
        (_, Some(GroupPlace::Kernel(_))) => RowExit::KernelGroups,
        _ => RowExit::of_transport(plan.target.transport),
    };
    Ok(plan)
}

/// The kernel and user parts of `query`, before `complete` decides where work happens.
fn split(query: TypedQuery, filter_text: Option<String>) -> Plan {
    let hidden: Vec<bool> = match &query.grouping {
        Some(grouping) => grouping.columns.iter().map(|c| c.hidden).collect(),
        None => query.columns.iter().map(|c| c.hidden).collect(),
    };
    let visible = (0..hidden.len()).filter(|&i| !hidden[i]).collect();
    let quirks = query.target.facts();
    Plan {
        target: query.target,
        iter_params: query.iter_params,
        kernel: KernelPart {
            filter: query.filter,
            filter_text,
            columns: query.columns,
        },
        user: UserPart {
            grouping: query.grouping,
            order_by: query.order_by,
            limit: query.limit,
            visible,
            drop_repeated_last: quirks.repeats_last_row,
            projection: None,
        },
        group_place: None,
        rows_from: RowsFrom::Program,
        layout: RowLayout::default(),
        exit: RowExit::NoProgram,
    }
}

impl Plan {
    /// The kernel grouping, when the program updates the group map (`RowExit::KernelGroups`).
    pub fn kernel_grouping(&self) -> Option<&KernelGrouping> {
        match (&self.exit, &self.group_place) {
            (RowExit::KernelGroups, Some(GroupPlace::Kernel(k))) => Some(k),
            _ => None,
        }
    }

    /// A few lines saying what runs where, for `bpfq explain`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "target:      {} (context struct {})\n",
            self.target.name, self.target.ctx_struct_name
        ));
        match &self.iter_params {
            Some(params) => out.push_str(&format!("visit:       {}\n", params.describe())),
            None => out.push_str("visit:       every object\n"),
        }
        if let RowsFrom::MapWalk(walk) = &self.rows_from {
            out.push_str(&self.describe_walk(walk));
            return out;
        }
        out.push_str("in kernel:   ");
        if let RowsFrom::SocketIterators(sockets) = &self.rows_from {
            out.push_str(match sockets.lookup {
                SocketLookup::SkStorage => {
                    "for each socket holding a value in the map (bpf_sk_storage_get), "
                }
                SocketLookup::SockmapKey { .. } => {
                    "for each socket whose cookie the sockmap holds (its key from a map user \
                     space fills), "
                }
            });
        }
        match &self.kernel.filter_text {
            Some(f) => out.push_str(&format!("filter `{f}`, ")),
            None => out.push_str("no filter, "),
        }
        let names: Vec<&str> = self
            .kernel
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let kernel_grouping = matches!(self.group_place, Some(GroupPlace::Kernel(_)));
        out.push_str(&self.describe_user(&names, kernel_grouping));
        out
    }

    /// `describe` of a plan whose rows come from a user-space map walk: no kernel part.
    fn describe_walk(&self, walk: &crate::map_walk::MapWalk) -> String {
        let mut out = String::from("in kernel:   nothing (no program)\n");
        out.push_str(&format!(
            "rows via:    user-space map walk, BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM (this \
             kernel refuses map-element programs: {})\n",
            walk.why
        ));
        let names: Vec<&str> = self
            .kernel
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        out.push_str("per element: ");
        match &self.kernel.filter_text {
            Some(f) => out.push_str(&format!("filter `{f}`, ")),
            None => out.push_str("no filter, "),
        }
        out.push_str(&format!("row ({})\n", names.join(", ")));
        if let Some(place) = &self.group_place {
            out.push_str(&format!("grouping:    {}\n", place.describe()));
        }
        out.push_str(&self.describe_user_steps(&names, false));
        out
    }

    /// The `user space:` line (and before it, for the program path, the kernel lines).
    fn describe_user(&self, names: &[&str], kernel_grouping: bool) -> String {
        let mut out = String::new();
        if kernel_grouping {
            out.push_str(&format!(
                "update the group of ({}) in a BPF hash map, write no rows\n",
                names.join(", ")
            ));
            out.push_str("rows via:    none (user space reads the groups from the map)\n");
        } else {
            out.push_str(&format!("write row ({})\n", names.join(", ")));
            match &self.rows_from {
                RowsFrom::SocketIterators(sockets) => out.push_str(&format!(
                    "rows via:    {} iterators {} (this kernel refuses map-element programs: \
                     {}), each read in every network namespace\n",
                    sockets.names(),
                    sockets.how(),
                    sockets.why
                )),
                _ => out.push_str(&format!(
                    "rows via:    {}\n",
                    self.target.transport.describe()
                )),
            }
        }
        if let Some(place) = &self.group_place {
            out.push_str(&format!("grouping:    {}\n", place.describe()));
        }
        out.push_str(&self.describe_user_steps(names, kernel_grouping));
        out
    }

    /// The `user space:` line: what runs over the rows.
    fn describe_user_steps(&self, names: &[&str], kernel_grouping: bool) -> String {
        let mut out = String::from("user space:  ");
        let mut steps = Vec::new();
        let result_names: Vec<&str> = match &self.user.grouping {
            Some(grouping) => {
                if kernel_grouping {
                    steps.push("read the groups from the map".to_string());
                }
                steps.extend(grouping.describe_steps(&self.kernel.columns));
                grouping.columns.iter().map(|c| c.name.as_str()).collect()
            }
            None => match &self.user.projection {
                Some(projection) => {
                    steps.extend(projection.describe_steps());
                    projection.columns.iter().map(|c| c.name.as_str()).collect()
                }
                None => names.to_vec(),
            },
        };
        if !self.user.order_by.is_empty() {
            let keys: Vec<String> = self
                .user
                .order_by
                .iter()
                .map(|k| {
                    format!(
                        "{}{}",
                        result_names.get(k.column).copied().unwrap_or("?"),
                        if k.descending { " desc" } else { "" }
                    )
                })
                .collect();
            steps.push(format!("sort by {}", keys.join(", ")));
        }
        if let Some(limit) = self.user.limit {
            steps.push(format!("stop after {limit} rows"));
        }
        steps.push("format".to_string());
        out.push_str(&steps.join(", "));
        out.push('\n');
        out
    }
}
