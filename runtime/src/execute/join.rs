//! Stage `read` + `format` of a join: each source is loaded, read whole and unloaded before the
//! next one loads (at most one program is in the kernel at a time), then the rows are
//! hash-joined in user space and written. Guarantees: each source runs through the same
//! `Producer` a query of that source alone would, and every fd of a source is closed at the
//! end of its turn; without `order by` the last step's rows stream to the sink as found, and
//! what must be held (earlier steps' combinations, a sorted join's rows) is at most
//! `RunOptions::max_join_rows`, else E0127.

use std::ops::ControlFlow;

use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::Diagnostic;
use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::pipeline::{Compiled, CompiledJoin};

use super::producer::{Producer, Walked};
use super::timings::{TimedSink, Timings};
use super::{Context, RunError};
use crate::decode::Value;
use crate::format::RowSink;
use crate::join::{hash_join_each, result_layout, TooManyHeld};
use crate::pipeline::{read_all, write_row_stream, write_rows, StreamSummary};

/// One run of `join`: every source read, joined, written to `sink`.
pub fn run(
    join: &CompiledJoin,
    context: &Context<'_>,
    sink: &mut dyn RowSink,
    timings: &mut Timings,
) -> Result<StreamSummary, RunError> {
    let mut rows = Vec::new();
    for side in &join.sides {
        rows.push(read_side(side, context, timings)?);
    }
    let layouts: Vec<&RowLayout> = join.sides.iter().map(|s| &s.plan.layout).collect();
    let layout = result_layout(&join.join, &layouts);
    let plan = &join.join;
    let max = context.options.max_join_rows;
    let mut timed = TimedSink::new(sink, timings);
    let mut joined = Ok(());
    let written = if plan.order_by.is_empty() {
        // Rows stream out as the last step finds them; only earlier steps' combinations are held.
        let started = std::time::Instant::now();
        let written = write_row_stream(&layout, plan.limit, &plan.visible, &mut timed, |emit| {
            joined = hash_join_each(plan, &rows, max, emit);
        });
        // The join is what the stream took beyond formatting its rows.
        timings.record("join", started.elapsed().saturating_sub(timed.spent));
        written
    } else {
        let mut held = Vec::new();
        joined = timings.time("join", || {
            hash_join_each(plan, &rows, max, |row| {
                held.push(row);
                match held.len() > max {
                    true => ControlFlow::Break(()),
                    false => ControlFlow::Continue(()),
                }
            })
        });
        if held.len() > max {
            joined = Err(TooManyHeld { limit: max });
        }
        joined.map_err(too_large)?;
        write_rows(
            held,
            &layout,
            &plan.order_by,
            plan.limit,
            &plan.visible,
            &mut timed,
        )
    };
    timed.record_format(timings);
    joined.map_err(too_large)?;
    Ok(written?)
}

/// E0127: the join needed more combinations in memory than `--max-join-rows`.
fn too_large(TooManyHeld { limit }: TooManyHeld) -> RunError {
    let diag = Diagnostic::error(
        codes::JOIN_TOO_LARGE,
        format!("the join holds more than {limit} row combinations in memory (--max-join-rows {limit})"),
    )
    .with_note("rows of the last `join` stream out as they are found; the combinations of earlier joins, or every result row of a join with `order by`, are held")
    .with_note("help: narrow the sources with `where`, or raise the limit with --max-join-rows N");
    RunError::Refused(Box::new(diag))
}

/// Every row of one source, decoded; its programs, links and iterators are closed on return.
fn read_side(
    side: &Compiled,
    context: &Context<'_>,
    timings: &mut Timings,
) -> Result<Vec<Vec<Value>>, RunError> {
    let producer = Producer::load(side, context, timings)?;
    let Walked::Rows(mut rows) = producer.walk(context, timings)? else {
        return Err(RunError::Failed(
            "internal error (this is a bug in bpfq): a join source grouped in the kernel".into(),
        ));
    };
    let drop_last = side.plan.user.drop_repeated_last;
    timings
        .time("read", || read_all(&mut rows, &side.plan.layout, drop_last))
        .map_err(|err| RunError::Failed(err.to_string()))
}
