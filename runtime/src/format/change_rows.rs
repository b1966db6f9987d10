//! Stage `format`: the rows of a `--changes` run. Guarantees a run's rows are held until its
//! end, then only its changes (`changes::ChangeLog`) reach the wrapped sink, each after the
//! columns `action`, `time` (the run's start, RFC 3339 UTC) and `unix_time` (the same, whole
//! seconds); the wrapped sink gets `begin` and `end` for every run, even one without changes.

use std::io;
use std::time::SystemTime;

use bpfq_compiler::layout::{ColumnKind, ColumnLayout, RowLayout};

use super::{time, RowSink};
use crate::changes::ChangeLog;
use crate::decode::{Row, Value};

/// The columns every change row starts with, in order.
pub const CHANGE_COLUMNS: [&str; 3] = ["action", "time", "unix_time"];

/// Collects one run's rows and writes its changes to `inner`.
pub struct ChangeSink<'a> {
    log: &'a mut ChangeLog,
    inner: Box<dyn RowSink + 'a>,
    /// `time` and `unix_time` of every row of the run.
    time: Value,
    unix_time: Value,
    layout: RowLayout,
    rows: Vec<Vec<Value>>,
}

impl<'a> ChangeSink<'a> {
    /// A sink for the run that started `at`, comparing with the run `log` saw last.
    pub fn new(log: &'a mut ChangeLog, inner: Box<dyn RowSink + 'a>, at: SystemTime) -> Self {
        ChangeSink {
            log,
            inner,
            time: Value::Text(time::rfc3339_millis(at)),
            unix_time: Value::UInt(time::unix_seconds(at)),
            layout: RowLayout::default(),
            rows: Vec::new(),
        }
    }
}

/// `layout`'s columns after the change columns.
fn with_change_columns(layout: &RowLayout) -> RowLayout {
    let text = |len| ColumnKind::Chars { len };
    let kinds = [
        text(8),
        text(24),
        ColumnKind::Int {
            bytes: 8,
            signed: false,
        },
    ];
    let leading = CHANGE_COLUMNS
        .iter()
        .zip(kinds)
        .map(|(name, kind)| ColumnLayout {
            name: name.to_string(),
            offset: 0,
            kind,
            null_flag: None,
        });
    RowLayout {
        size: layout.size,
        columns: leading.chain(layout.columns.iter().cloned()).collect(),
    }
}

impl RowSink for ChangeSink<'_> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        self.layout = with_change_columns(layout);
        self.rows.clear();
        Ok(())
    }

    fn row(&mut self, row: &dyn Row) -> io::Result<()> {
        let values = (0..row.cell_count()).map(|i| row.cell(i).to_value());
        self.rows.push(values.collect());
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        let changes = self.log.next(std::mem::take(&mut self.rows));
        let rows: Vec<Vec<Value>> = changes
            .into_iter()
            .map(|(action, values)| {
                let mut row = Vec::with_capacity(CHANGE_COLUMNS.len() + values.len());
                row.push(Value::Text(action.name().to_string()));
                row.push(self.time.clone());
                row.push(self.unix_time.clone());
                row.extend(values);
                row
            })
            .collect();
        self.inner.begin(&self.layout)?;
        for row in &rows {
            self.inner.preview(row);
        }
        for row in &rows {
            self.inner.row(row)?;
        }
        self.inner.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{new_sink, FormatOptions, OutputFormat};
    use std::time::{Duration, UNIX_EPOCH};

    fn layout() -> RowLayout {
        RowLayout::pack([(
            "pid".to_string(),
            ColumnKind::Int {
                bytes: 4,
                signed: false,
            },
            false,
        )])
    }

    /// One run of pids through a change sink writing CSV; the text it wrote.
    fn run(log: &mut ChangeLog, pids: &[u64], secs: u64) -> String {
        let mut out = Vec::new();
        let inner = new_sink(OutputFormat::Csv, &mut out, FormatOptions::default());
        let at = UNIX_EPOCH + Duration::from_millis(secs * 1000 + 250);
        let mut sink = ChangeSink::new(log, inner, at);
        sink.begin(&layout()).expect("begin");
        for pid in pids {
            sink.row(&[Value::UInt(*pid)]).expect("row");
        }
        sink.end().expect("end");
        drop(sink);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn each_run_writes_its_changes_after_the_change_columns() {
        let mut log = ChangeLog::new(None);
        assert_eq!(
            run(&mut log, &[7, 8], 60),
            "action,time,unix_time,pid\n\
             snapshot,1970-01-01T00:01:00.250Z,60,7\n\
             snapshot,1970-01-01T00:01:00.250Z,60,8\n"
        );
        assert_eq!(run(&mut log, &[7, 8], 62), "action,time,unix_time,pid\n");
        assert_eq!(
            run(&mut log, &[8, 9], 64),
            "action,time,unix_time,pid\n\
             removed,1970-01-01T00:01:04.250Z,64,7\n\
             added,1970-01-01T00:01:04.250Z,64,9\n"
        );
    }
}
