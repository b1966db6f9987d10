//! `bpfq 'from A join B on ... [join C on ...]'`: each source's program is loaded, read whole and unloaded
//! before the next one loads (so at most one program is in the kernel at a time), then the
//! rows are hash-joined in user space and formatted. Every fd is owned by a value dropped at
//! the end of its source's turn.

use super::run::{load_and_attach, load_failure, open_iterators, opening_failure};
use super::timings::Timings;
use super::{
    args::{Common, OutputArgs},
    Failure,
};
use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::pipeline::{Compiled, CompiledJoin};
use bpfq_kernel::catalogue::RowTransport;
use bpfq_runtime::decode::Value;
use bpfq_runtime::join::{hash_join, result_layout};
use bpfq_runtime::pipeline::{read_all, write_rows};

pub fn run_join(
    join: &CompiledJoin,
    query: &str,
    common: &Common,
    output: &OutputArgs,
) -> Result<(), Failure> {
    let mut rows = Vec::new();
    for side in &join.sides {
        rows.push(read_side(side, query, common)?);
    }
    let mut sink = super::output::row_sink(output);
    let layouts: Vec<&RowLayout> = join.sides.iter().map(|s| &s.layout).collect();
    let joined = hash_join(&join.join, &rows);
    write_rows(
        joined,
        &result_layout(&join.join, &layouts),
        &join.join.order_by,
        join.join.limit,
        &join.join.visible,
        sink.as_mut(),
    )
    .map(|_| ())
    .map_err(super::output::stream_failure)
}

/// Every row of one source, decoded; its program, link and iterators are closed on return.
fn read_side(side: &Compiled, query: &str, common: &Common) -> Result<Vec<Vec<Value>>, Failure> {
    let drop_last = side.plan.user.drop_repeated_last;
    let read_failed = |err: bpfq_runtime::ReadError| Failure::Runtime(err.to_string());
    if matches!(side.plan.rows_from, RowsFrom::MapWalk(_)) {
        let mut walk = [super::map_run::walk_rows(side)?];
        return read_all(&mut walk, &side.layout, drop_last).map_err(read_failed);
    }
    if matches!(side.plan.rows_from, RowsFrom::SocketIterators(_)) {
        let links = super::socket_run::load(side, query, common)?;
        let mut readers = links.open(side, query, common)?;
        return read_all(&mut readers, &side.layout, drop_last).map_err(read_failed);
    }
    if side.plan.target.transport == RowTransport::RingBuf {
        let mut rings = super::run_ring::ring_rows(query, side, common)?;
        return read_all(&mut rings, &side.layout, drop_last).map_err(read_failed);
    }
    let (_program, link) = load_and_attach(side, query, common, &mut Timings::new(false))?;
    let failed = |e| load_failure(e, query, &side.program, common.verbose);
    let mut readers = open_iterators(&link, side.plan.iter_params.as_ref())
        .map_err(|e| opening_failure(e, &failed))?;
    read_all(&mut readers, &side.layout, drop_last).map_err(read_failed)
}
