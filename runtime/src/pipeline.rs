//! Stage `read` -> `format`: drives rows from an iterator through the decoder into a sink.
//! Guarantees rows reach the sink in kernel order as they are read (no collecting, no copy: a
//! `RawRow` over the read buffer), rows held for a sort or grouping are `preview`ed to the sink
//! before the first is written, and a closed output (EPIPE, e.g. `bpfq ... | head -1`) ends the
//! run quietly instead of failing.

use std::fmt;
use std::io;
use std::ops::ControlFlow;

use bpfq_compiler::bind::SortKey;
use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::plan::UserPart;
use std::cmp::Ordering;

use crate::decode::{decode_row, RawRow, Value};
use crate::eval::{compare_values, GroupValues};
use crate::format::RowSink;
use crate::group::Grouper;
use crate::reader::ReadError;
use crate::row_source::RowSource;

/// Why streaming rows to the output failed.
#[derive(Debug)]
pub enum StreamError {
    Read(ReadError),
    Write(io::Error),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Read(err) => err.fmt(f),
            StreamError::Write(err) => write!(f, "writing output failed: {err}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    pub rows: usize,
    /// The reader of our output went away before the end.
    pub output_closed: bool,
}

fn is_closed_output(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

/// The columns of the result rows that are printed, in order (`layout`: the kernel's rows).
pub fn visible_layout(layout: &RowLayout, user: &UserPart) -> RowLayout {
    let computed;
    let layout = match (&user.grouping, &user.projection) {
        (Some(grouping), _) => {
            computed = grouping.result_layout(layout);
            &computed
        }
        (None, Some(projection)) => {
            computed = projection.result_layout(layout);
            &computed
        }
        (None, None) => layout,
    };
    RowLayout {
        size: layout.size,
        columns: user
            .visible
            .iter()
            .filter_map(|&i| layout.columns.get(i).cloned())
            .collect(),
    }
}

/// Reads the rows of `reader`, decodes them by `layout`, applies the user-space part of the plan
/// (grouping, having, sort, limit, hiding sort-only columns) and hands them to `sink`, with
/// `begin` before the first row and `end` after the last. Without a sort or grouping, rows
/// stream and reading stops at the limit; with one, all rows are read first.
pub fn stream_rows(
    reader: &mut impl RowSource,
    layout: &RowLayout,
    user: &UserPart,
    sink: &mut dyn RowSink,
) -> Result<StreamSummary, StreamError> {
    stream_rows_of(std::slice::from_mut(reader), layout, user, sink)
}

/// As `stream_rows`, over the rows of several iterators read one after the other (the same
/// program in several network namespaces): one sort and one limit over all of them.
pub fn stream_rows_of<R: RowSource>(
    readers: &mut [R],
    layout: &RowLayout,
    user: &UserPart,
    sink: &mut dyn RowSink,
) -> Result<StreamSummary, StreamError> {
    crate::clock::start_run();
    let closed = |rows| {
        Ok(StreamSummary {
            rows,
            output_closed: true,
        })
    };
    match sink.begin(&visible_layout(layout, user)) {
        Err(err) if is_closed_output(&err) => return closed(0),
        other => other.map_err(StreamError::Write)?,
    }
    let pick = |row: Vec<Value>| -> Vec<Value> {
        user.visible
            .iter()
            .filter_map(|&i| row.get(i).cloned())
            .collect()
    };
    let limit = user
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut rows = 0usize;
    let mut write_error = None;
    // A row of the kernel's values, and the result row user space computes from it.
    // None when user space's part of the filter does not hold.
    let result_row = |bytes: &[u8]| -> Option<Vec<Value>> {
        let kernel = decode_row(layout, bytes);
        match &user.projection {
            Some(projection) => {
                let values = GroupValues {
                    keys: &kernel,
                    aggs: &[],
                };
                let kept = projection
                    .filter
                    .as_ref()
                    .is_none_or(|f| values.eval(f) == Value::Bool(true));
                kept.then(|| {
                    projection
                        .columns
                        .iter()
                        .map(|c| values.eval(&c.expr))
                        .collect()
                })
            }
            None => Some(kernel),
        }
    };
    if user.order_by.is_empty() && user.grouping.is_none() && user.projection.is_some() {
        if limit > 0 {
            each_row(
                readers,
                layout.size as usize,
                user.drop_repeated_last,
                |bytes| match result_row(bytes).map(|row| sink.row(&pick(row))) {
                    None => ControlFlow::Continue(()),
                    Some(Ok(())) => {
                        rows += 1;
                        if rows >= limit {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    }
                    Some(Err(err)) => {
                        write_error = Some(err);
                        ControlFlow::Break(())
                    }
                },
            )
            .map_err(StreamError::Read)?;
        }
    } else if user.order_by.is_empty() && user.grouping.is_none() {
        if limit > 0 {
            each_row(
                readers,
                layout.size as usize,
                user.drop_repeated_last,
                |bytes| {
                    // Decoded cell by cell as the sink asks: nothing is copied per row.
                    let row = RawRow {
                        layout,
                        bytes,
                        columns: &user.visible,
                    };
                    match sink.row(&row) {
                        Ok(()) => {
                            rows += 1;
                            if rows >= limit {
                                ControlFlow::Break(())
                            } else {
                                ControlFlow::Continue(())
                            }
                        }
                        Err(err) => {
                            write_error = Some(err);
                            ControlFlow::Break(())
                        }
                    }
                },
            )
            .map_err(StreamError::Read)?;
        }
    } else {
        let mut all = Vec::new();
        let mut grouper = user.grouping.as_ref().map(|g| Grouper::new(g, layout));
        each_row(
            readers,
            layout.size as usize,
            user.drop_repeated_last,
            |row| {
                match grouper.as_mut() {
                    Some(grouper) => grouper.add(row),
                    None => all.extend(result_row(row)),
                }
                ControlFlow::Continue(())
            },
        )
        .map_err(StreamError::Read)?;
        if let Some(grouper) = grouper {
            all = grouper.finish();
        }
        sort_rows(&mut all, &user.order_by);
        let shown: Vec<Vec<Value>> = all.into_iter().take(limit).map(pick).collect();
        for row in &shown {
            sink.preview(row);
        }
        for row in &shown {
            if let Err(err) = sink.row(row) {
                write_error = Some(err);
                break;
            }
            rows += 1;
        }
    }
    let finished = match write_error {
        Some(err) => Err(err),
        None => sink.end(),
    };
    match finished {
        Ok(()) => Ok(StreamSummary {
            rows,
            output_closed: false,
        }),
        Err(err) if is_closed_output(&err) => closed(rows),
        Err(err) => Err(StreamError::Write(err)),
    }
}

/// The groups of `grouper` (filled from a kernel group map) through `having`, sort and limit
/// to `sink`, like `stream_rows_of` does with the groups it builds from rows.
pub fn write_groups(
    grouper: Grouper<'_>,
    layout: &RowLayout,
    user: &UserPart,
    sink: &mut dyn RowSink,
) -> Result<StreamSummary, StreamError> {
    let result_layout = match &user.grouping {
        Some(grouping) => grouping.result_layout(layout),
        None => layout.clone(),
    };
    write_rows(
        grouper.finish(),
        &result_layout,
        &user.order_by,
        user.limit,
        &user.visible,
        sink,
    )
}

/// Calls `on_row` for each row of each reader in turn, until one call breaks.
fn each_row<R: RowSource>(
    readers: &mut [R],
    row_size: usize,
    drop_repeated_last: bool,
    mut on_row: impl FnMut(&[u8]) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    for reader in readers {
        let mut stopped = false;
        each_row_of(reader, row_size, drop_repeated_last, |row| {
            let flow = on_row(row);
            stopped = flow.is_break();
            flow
        })?;
        if stopped {
            break;
        }
    }
    Ok(())
}

/// Every row of `readers`, decoded (a join reads each source whole before joining).
pub fn read_all<R: RowSource>(
    readers: &mut [R],
    layout: &RowLayout,
    drop_repeated_last: bool,
) -> Result<Vec<Vec<Value>>, ReadError> {
    let mut all = Vec::new();
    each_row(readers, layout.size as usize, drop_repeated_last, |row| {
        all.push(decode_row(layout, row));
        ControlFlow::Continue(())
    })?;
    Ok(all)
}

/// Writes result rows already in memory (a join's): sorted by `order_by`, cut at `limit`, the
/// `visible` columns of `layout` (the result layout) only.
pub fn write_rows(
    mut rows: Vec<Vec<Value>>,
    layout: &RowLayout,
    order_by: &[SortKey],
    limit: Option<u64>,
    visible: &[usize],
    sink: &mut dyn RowSink,
) -> Result<StreamSummary, StreamError> {
    let mut written = 0usize;
    let result = (|| {
        sink.begin(&shown_layout(layout, visible))?;
        sort_rows(&mut rows, order_by);
        let picked: Vec<Vec<Value>> = rows
            .into_iter()
            .take(limit_count(limit))
            .map(|row| project(row, visible))
            .collect();
        for row in &picked {
            sink.preview(row);
        }
        for row in &picked {
            sink.row(row)?;
            written += 1;
        }
        sink.end()
    })();
    summary(result, written)
}

/// Writes rows as `produce` hands them over (a join's, unsorted), cut at `limit`, the `visible`
/// columns of `layout` only; no row is held. `produce` must stop when its callback breaks.
pub fn write_row_stream(
    layout: &RowLayout,
    limit: Option<u64>,
    visible: &[usize],
    sink: &mut dyn RowSink,
    produce: impl FnOnce(&mut dyn FnMut(Vec<Value>) -> ControlFlow<()>),
) -> Result<StreamSummary, StreamError> {
    let mut written = 0usize;
    let limit = limit_count(limit);
    let result = (|| {
        sink.begin(&shown_layout(layout, visible))?;
        let mut failed = None;
        if limit > 0 {
            produce(&mut |row| {
                if let Err(err) = sink.row(&project(row, visible)) {
                    failed = Some(err);
                    return ControlFlow::Break(());
                }
                written += 1;
                if written >= limit {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
        }
        match failed {
            Some(err) => Err(err),
            None => sink.end(),
        }
    })();
    summary(result, written)
}

fn limit_count(limit: Option<u64>) -> usize {
    limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX))
}

/// The result layout cut to its `visible` columns.
fn shown_layout(layout: &RowLayout, visible: &[usize]) -> RowLayout {
    RowLayout {
        size: layout.size,
        columns: visible
            .iter()
            .filter_map(|&i| layout.columns.get(i).cloned())
            .collect(),
    }
}

fn project(row: Vec<Value>, visible: &[usize]) -> Vec<Value> {
    visible
        .iter()
        .filter_map(|&i| row.get(i).cloned())
        .collect()
}

/// How a write of `written` rows ended: a closed output is a quiet end.
fn summary(result: io::Result<()>, written: usize) -> Result<StreamSummary, StreamError> {
    match result {
        Ok(()) => Ok(StreamSummary {
            rows: written,
            output_closed: false,
        }),
        Err(err) if is_closed_output(&err) => Ok(StreamSummary {
            rows: written,
            output_closed: true,
        }),
        Err(err) => Err(StreamError::Write(err)),
    }
}

/// Calls `on_row` for each row read; with `drop_repeated_last`, a final row equal to the one
/// before it is dropped (iter/ksym repeats its last symbol). Only the last row of each run the
/// reader hands over is held back (copied), the others go straight through.
fn each_row_of(
    reader: &mut impl RowSource,
    row_size: usize,
    drop_repeated_last: bool,
    mut on_row: impl FnMut(&[u8]) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    if !drop_repeated_last {
        return reader.read_rows(row_size, on_row);
    }
    // The held-back row, and the row that came before it (to compare at the end); a row is
    // never empty, so an empty buffer means "none yet".
    let (mut held, mut before_held) = (Vec::with_capacity(row_size), Vec::with_capacity(row_size));
    let mut stopped = false;
    reader.read_runs(row_size, |run| {
        let rows = run.len() / row_size;
        // The held row is not the last of the stream: more rows came.
        let mut flow = if held.is_empty() {
            ControlFlow::Continue(())
        } else {
            on_row(&held)
        };
        if flow.is_continue() {
            flow = run[..(rows - 1) * row_size]
                .chunks_exact(row_size)
                .try_for_each(&mut on_row);
        }
        if rows >= 2 {
            before_held.clear();
            before_held.extend_from_slice(&run[(rows - 2) * row_size..(rows - 1) * row_size]);
        } else {
            std::mem::swap(&mut before_held, &mut held);
        }
        held.clear();
        held.extend_from_slice(&run[(rows - 1) * row_size..]);
        stopped = flow.is_break();
        flow
    })?;
    if !held.is_empty() && !stopped && before_held != held {
        let _ = on_row(&held);
    }
    Ok(())
}

/// Stable sort by the keys in order; NULL sorts first.
fn sort_rows(rows: &mut [Vec<Value>], keys: &[SortKey]) {
    rows.sort_by(|a, b| {
        keys.iter()
            .map(|key| {
                let ord = compare_values(&a[key.column], &b[key.column]);
                if key.descending {
                    ord.reverse()
                } else {
                    ord
                }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::IterReader;
    use bpfq_compiler::layout::ColumnKind;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixDatagram;

    /// Records rows; fails with `error` once it holds `fail_after` rows.
    struct Recorder {
        rows: Vec<Vec<Value>>,
        fail_after: usize,
        error: io::ErrorKind,
        ended: bool,
        /// Rows previewed, and how many had been previewed when the first row came.
        previewed: Vec<Vec<Value>>,
        previewed_before_first_row: Option<usize>,
    }

    fn values_of(row: &dyn crate::decode::Row) -> Vec<Value> {
        (0..row.cell_count())
            .map(|i| row.cell(i).to_value())
            .collect()
    }

    impl RowSink for Recorder {
        fn begin(&mut self, _layout: &RowLayout) -> io::Result<()> {
            Ok(())
        }
        fn row(&mut self, row: &dyn crate::decode::Row) -> io::Result<()> {
            self.previewed_before_first_row
                .get_or_insert(self.previewed.len());
            if self.rows.len() == self.fail_after {
                return Err(io::Error::from(self.error));
            }
            self.rows.push(values_of(row));
            Ok(())
        }
        fn preview(&mut self, row: &dyn crate::decode::Row) {
            self.previewed.push(values_of(row));
        }
        fn end(&mut self) -> io::Result<()> {
            self.ended = true;
            Ok(())
        }
    }

    fn reader_of(values: &[u64]) -> IterReader {
        let (reader, writer) = UnixDatagram::pair().expect("socketpair");
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        writer.send(&bytes).expect("send");
        writer.send(&[]).expect("send end marker");
        IterReader::new(OwnedFd::from(reader))
    }

    fn layout() -> RowLayout {
        RowLayout::pack([(
            "n".to_string(),
            ColumnKind::Int {
                bytes: 8,
                signed: false,
            },
            false,
        )])
    }

    fn all_rows() -> UserPart {
        UserPart {
            grouping: None,
            order_by: vec![],
            limit: None,
            visible: vec![0],
            drop_repeated_last: false,
            projection: None,
        }
    }
    #[test]
    fn a_repeated_last_row_is_dropped_when_asked() {
        let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
        let user = UserPart {
            drop_repeated_last: true,
            ..all_rows()
        };
        stream_rows(
            &mut reader_of(&[1, 2, 2, 3, 3]),
            &layout(),
            &user,
            &mut sink,
        )
        .expect("stream");
        assert!(
            sink.previewed.is_empty(),
            "streamed rows are never previewed"
        );
        let got: Vec<Value> = sink.rows.into_iter().flatten().collect();
        let expected = vec![
            Value::UInt(1),
            Value::UInt(2),
            Value::UInt(2),
            Value::UInt(3),
        ];
        assert_eq!(got, expected, "only the final repeat goes");
    }

    #[test]
    fn dropping_a_repeated_last_row_keeps_short_streams_right() {
        let user = UserPart {
            drop_repeated_last: true,
            ..all_rows()
        };
        for (input, expected) in [
            (&[][..], &[][..]),
            (&[4], &[4]),
            (&[5, 5], &[5]),
            (&[1, 2], &[1, 2]),
            (&[7, 7, 7], &[7, 7]),
        ] {
            let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
            stream_rows(&mut reader_of(input), &layout(), &user, &mut sink).expect("stream");
            let got: Vec<Value> = sink.rows.into_iter().flatten().collect();
            let expected: Vec<Value> = expected.iter().map(|&n| Value::UInt(n)).collect();
            assert_eq!(got, expected, "rows {input:?}");
        }
    }

    #[test]
    fn dropping_a_repeated_last_row_works_across_reads() {
        let user = UserPart {
            drop_repeated_last: true,
            ..all_rows()
        };
        let cases: [(&[&[u64]], &[u64]); 6] = [
            (&[&[1, 2], &[3], &[3]], &[1, 2, 3]),
            (&[&[1], &[2, 2]], &[1, 2]),
            (&[&[7], &[7]], &[7]),
            (&[&[1, 2, 3], &[3]], &[1, 2, 3]),
            (&[&[5], &[6], &[7]], &[5, 6, 7]),
            (&[&[4, 4], &[4, 9]], &[4, 4, 4, 9]),
        ];
        for (reads, expected) in cases {
            let (reader, writer) = UnixDatagram::pair().expect("socketpair");
            for read in reads {
                let bytes: Vec<u8> = read.iter().flat_map(|v| v.to_le_bytes()).collect();
                writer.send(&bytes).expect("send");
            }
            writer.send(&[]).expect("send end marker");
            let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
            let mut reader = IterReader::new(OwnedFd::from(reader));
            stream_rows(&mut reader, &layout(), &user, &mut sink).expect("stream");
            let got: Vec<Value> = sink.rows.into_iter().flatten().collect();
            let expected: Vec<Value> = expected.iter().map(|&n| Value::UInt(n)).collect();
            assert_eq!(got, expected, "reads {reads:?}");
        }
    }

    #[test]
    fn sort_and_limit_apply_in_user_space() {
        let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
        let user = UserPart {
            grouping: None,
            order_by: vec![SortKey {
                column: 0,
                descending: true,
            }],
            limit: Some(2),
            visible: vec![0],
            drop_repeated_last: false,
            projection: None,
        };
        let summary = stream_rows(&mut reader_of(&[3, 1, 5, 2]), &layout(), &user, &mut sink)
            .expect("stream");
        assert_eq!(summary.rows, 2);
        assert_eq!(sink.rows, vec![vec![Value::UInt(5)], vec![Value::UInt(3)]]);
        // Held rows are all shown first (a table sizes its columns on them), limit applied.
        assert_eq!(sink.previewed, sink.rows);
        assert_eq!(sink.previewed_before_first_row, Some(2));
    }

    #[test]
    fn several_readers_are_one_stream_for_sort_and_limit() {
        let user = UserPart {
            order_by: vec![SortKey {
                column: 0,
                descending: false,
            }],
            limit: Some(3),
            visible: vec![0],
            drop_repeated_last: false,
            projection: None,
            grouping: None,
        };
        let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
        let mut readers = [reader_of(&[7, 2]), reader_of(&[5, 1, 9])];
        stream_rows_of(&mut readers, &layout(), &user, &mut sink).expect("stream");
        let got: Vec<Value> = sink.rows.into_iter().flatten().collect();
        assert_eq!(got, vec![Value::UInt(1), Value::UInt(2), Value::UInt(5)]);

        let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
        let mut readers = [reader_of(&[7, 2]), reader_of(&[5, 1, 9])];
        let first_three = UserPart {
            order_by: vec![],
            ..user
        };
        stream_rows_of(&mut readers, &layout(), &first_three, &mut sink).expect("stream");
        let got: Vec<Value> = sink.rows.into_iter().flatten().collect();
        assert_eq!(got, vec![Value::UInt(7), Value::UInt(2), Value::UInt(5)]);
    }

    #[test]
    fn limit_without_sort_stops_reading_early() {
        let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
        let user = UserPart {
            grouping: None,
            order_by: vec![],
            limit: Some(1),
            visible: vec![0],
            drop_repeated_last: false,
            projection: None,
        };
        let summary =
            stream_rows(&mut reader_of(&[3, 1, 2]), &layout(), &user, &mut sink).expect("stream");
        assert_eq!(sink.rows, vec![vec![Value::UInt(3)]]);
        assert_eq!(summary.rows, 1);
        assert!(sink.ended);
    }

    #[test]
    fn hidden_columns_are_dropped() {
        let two = RowLayout::pack([
            (
                "a".to_string(),
                ColumnKind::Int {
                    bytes: 8,
                    signed: false,
                },
                false,
            ),
            (
                "b".to_string(),
                ColumnKind::Int {
                    bytes: 8,
                    signed: false,
                },
                false,
            ),
        ]);
        let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
        let user = UserPart {
            grouping: None,
            order_by: vec![SortKey {
                column: 1,
                descending: false,
            }],
            limit: None,
            visible: vec![0],
            drop_repeated_last: false,
            projection: None,
        };
        stream_rows(&mut reader_of(&[10, 2, 20, 1]), &two, &user, &mut sink).expect("stream");
        assert_eq!(
            sink.rows,
            vec![vec![Value::UInt(20)], vec![Value::UInt(10)]]
        );
    }

    fn recorder(fail_after: usize, error: io::ErrorKind) -> Recorder {
        Recorder {
            rows: Vec::new(),
            fail_after,
            error,
            ended: false,
            previewed: Vec::new(),
            previewed_before_first_row: None,
        }
    }

    #[test]
    fn every_row_reaches_the_sink_in_order() {
        let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
        let summary = stream_rows(
            &mut reader_of(&[3, 1, 2]),
            &layout(),
            &all_rows(),
            &mut sink,
        )
        .expect("stream");
        assert_eq!(
            summary,
            StreamSummary {
                rows: 3,
                output_closed: false
            }
        );
        assert_eq!(
            sink.rows,
            vec![
                vec![Value::UInt(3)],
                vec![Value::UInt(1)],
                vec![Value::UInt(2)]
            ]
        );
        assert!(sink.ended);
    }

    #[test]
    fn a_closed_pipe_stops_quietly() {
        let mut sink = recorder(1, io::ErrorKind::BrokenPipe);
        let summary = stream_rows(
            &mut reader_of(&[3, 1, 2]),
            &layout(),
            &all_rows(),
            &mut sink,
        )
        .expect("stream");
        assert_eq!(
            summary,
            StreamSummary {
                rows: 1,
                output_closed: true
            }
        );
        assert!(!sink.ended);
    }

    #[test]
    fn other_write_errors_are_reported() {
        let mut sink = recorder(0, io::ErrorKind::PermissionDenied);
        let result = stream_rows(&mut reader_of(&[3]), &layout(), &all_rows(), &mut sink);
        assert!(matches!(result, Err(StreamError::Write(_))));
    }
}
