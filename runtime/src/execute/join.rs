//! Stage `read` + `format` of a join: each source is loaded, read whole and unloaded before the
//! next one loads (at most one program is in the kernel at a time), then the rows are
//! hash-joined in user space and written. Guarantees: each source runs through the same
//! `Producer` a query of that source alone would, and every fd of a source is closed at the
//! end of its turn.

use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::pipeline::{Compiled, CompiledJoin};

use super::producer::{Producer, Walked};
use super::timings::{TimedSink, Timings};
use super::{Context, RunError};
use crate::decode::Value;
use crate::format::RowSink;
use crate::join::{hash_join, result_layout};
use crate::pipeline::{read_all, write_rows, StreamSummary};

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
    let layouts: Vec<&RowLayout> = join.sides.iter().map(|s| &s.layout).collect();
    let joined = timings.time("join", || hash_join(&join.join, &rows));
    let mut timed = TimedSink::new(sink, timings);
    let written = write_rows(
        joined,
        &result_layout(&join.join, &layouts),
        &join.join.order_by,
        join.join.limit,
        &join.join.visible,
        &mut timed,
    );
    timed.record_format(timings);
    Ok(written?)
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
        .time("read", || read_all(&mut rows, &side.layout, drop_last))
        .map_err(|err| RunError::Failed(err.to_string()))
}
