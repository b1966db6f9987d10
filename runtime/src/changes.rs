//! Stage `user part`: the change log of `--changes`, the difference of two result sets.
//! Guarantees the first run is a `Snapshot` of every row; after it, rows are compared with the
//! previous run's as multisets (two equal rows are two rows): a row that is new is `Added`, one
//! that is gone `Removed`, and with key columns a key that stays with other values is one
//! `Changed` row (its new values); without key columns the whole row is the key, so a changed
//! value is a `Removed` and an `Added` row. Removed rows come first, in the previous run's
//! order, then changed and added rows in this run's order.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::decode::Value;

/// What happened to a row since the previous run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The first run: the row exists (no earlier run to compare with).
    Snapshot,
    Added,
    Removed,
    /// Same key, other values (only with key columns).
    Changed,
}

impl Action {
    /// The word in the `action` field.
    pub fn name(self) -> &'static str {
        match self {
            Action::Snapshot => "snapshot",
            Action::Added => "added",
            Action::Removed => "removed",
            Action::Changed => "changed",
        }
    }
}

/// Remembers the previous run's rows and tells what each new run changed.
#[derive(Debug, Default)]
pub struct ChangeLog {
    /// Indices of the columns that identify a row; `None`: all of them.
    key: Option<Vec<usize>>,
    previous: Option<Vec<Vec<Value>>>,
}

impl ChangeLog {
    /// A log identifying rows by the columns at `key` (all columns when `None`).
    pub fn new(key: Option<Vec<usize>>) -> ChangeLog {
        ChangeLog {
            key,
            previous: None,
        }
    }

    /// The changes from the previous run to `rows` (this run's), which are kept for the next.
    pub fn next(&mut self, rows: Vec<Vec<Value>>) -> Vec<(Action, Vec<Value>)> {
        let changes = match &self.previous {
            None => rows
                .iter()
                .map(|row| (Action::Snapshot, row.clone()))
                .collect(),
            Some(before) => self.diff(before, &rows),
        };
        self.previous = Some(rows);
        changes
    }

    fn identity<'r>(&self, row: &'r [Value]) -> Identity<'r> {
        match &self.key {
            Some(columns) => Identity(columns.iter().filter_map(|&i| row.get(i)).collect()),
            None => Identity(row.iter().collect()),
        }
    }

    fn diff(&self, before: &[Vec<Value>], now: &[Vec<Value>]) -> Vec<(Action, Vec<Value>)> {
        // The previous rows not yet matched, by key, in their order.
        let mut unmatched: HashMap<Identity, Vec<usize>> = HashMap::new();
        for (index, row) in before.iter().enumerate() {
            unmatched.entry(self.identity(row)).or_default().push(index);
        }
        // First every row that is still there unchanged, so that a key shared by several rows
        // pairs a changed row with a previous row no unchanged row claims.
        let mut kept = vec![false; now.len()];
        for (index, row) in now.iter().enumerate() {
            if let Some(waiting) = unmatched.get_mut(&self.identity(row)) {
                if let Some(at) = waiting.iter().position(|&i| same_row(&before[i], row)) {
                    waiting.remove(at);
                    kept[index] = true;
                }
            }
        }
        let mut new_or_changed = Vec::new();
        for (row, _) in now.iter().zip(&kept).filter(|(_, kept)| !**kept) {
            let action = match unmatched.get_mut(&self.identity(row)) {
                Some(waiting) if !waiting.is_empty() => {
                    waiting.remove(0);
                    Action::Changed
                }
                _ => Action::Added,
            };
            new_or_changed.push((action, row.clone()));
        }
        let mut removed: Vec<usize> = unmatched.into_values().flatten().collect();
        removed.sort_unstable();
        removed
            .into_iter()
            .map(|index| (Action::Removed, before[index].clone()))
            .chain(new_or_changed)
            .collect()
    }
}

/// The values that identify a row, compared as `same_value` does.
struct Identity<'r>(Vec<&'r Value>);

impl PartialEq for Identity<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| same_value(a, b))
    }
}

impl Eq for Identity<'_> {}

impl Hash for Identity<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for value in &self.0 {
            hash_value(value, state);
        }
    }
}

fn same_row(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
}

/// Equality in which a float equals itself, NaN included (its bits are compared), so every row
/// equals itself.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
        _ => a == b,
    }
}

fn hash_value<H: Hasher>(value: &Value, state: &mut H) {
    std::mem::discriminant(value).hash(state);
    match value {
        Value::Null => {}
        Value::Int(n) | Value::Timestamp(n) | Value::Duration(n) => n.hash(state),
        Value::UInt(n) | Value::Pointer(n) => n.hash(state),
        Value::Float(x) => x.to_bits().hash(state),
        Value::Bool(b) => b.hash(state),
        Value::Text(text) => text.hash(state),
        Value::Enum { value, name } => (value, name).hash(state),
        Value::Bytes { bytes, pointers } => (bytes, pointers).hash(state),
    }
}

#[cfg(test)]
mod tests {
    use super::Action::{self, *};
    use super::ChangeLog;
    use crate::decode::Value;

    /// Rows of (pid, comm).
    fn rows(items: &[(u64, &str)]) -> Vec<Vec<Value>> {
        items
            .iter()
            .map(|(pid, comm)| vec![Value::UInt(*pid), Value::Text(comm.to_string())])
            .collect()
    }

    fn changes(items: &[(Action, u64, &str)]) -> Vec<(Action, Vec<Value>)> {
        items
            .iter()
            .map(|(action, pid, comm)| {
                (
                    *action,
                    vec![Value::UInt(*pid), Value::Text(comm.to_string())],
                )
            })
            .collect()
    }

    #[test]
    fn the_first_run_is_a_snapshot_then_only_differences() {
        let mut log = ChangeLog::new(None);
        let first = log.next(rows(&[(1, "a"), (2, "b")]));
        assert_eq!(first, changes(&[(Snapshot, 1, "a"), (Snapshot, 2, "b")]));
        assert_eq!(log.next(rows(&[(2, "b"), (1, "a")])), changes(&[]));
        let third = log.next(rows(&[(3, "c"), (2, "b"), (4, "d")]));
        assert_eq!(
            third,
            changes(&[(Removed, 1, "a"), (Added, 3, "c"), (Added, 4, "d")])
        );
    }

    #[test]
    fn without_a_key_a_changed_value_is_removed_and_added() {
        let mut log = ChangeLog::new(None);
        log.next(rows(&[(1, "a")]));
        assert_eq!(
            log.next(rows(&[(1, "z")])),
            changes(&[(Removed, 1, "a"), (Added, 1, "z")])
        );
    }

    #[test]
    fn with_a_key_a_changed_value_is_one_changed_row() {
        let mut log = ChangeLog::new(Some(vec![0]));
        log.next(rows(&[(1, "a"), (2, "b")]));
        assert_eq!(
            log.next(rows(&[(1, "z"), (2, "b"), (3, "c")])),
            changes(&[(Changed, 1, "z"), (Added, 3, "c")])
        );
    }

    #[test]
    fn equal_rows_count_as_many_rows() {
        let mut log = ChangeLog::new(None);
        log.next(rows(&[(0, "x"), (0, "x"), (0, "x")]));
        assert_eq!(
            log.next(rows(&[(0, "x")])),
            changes(&[(Removed, 0, "x"), (Removed, 0, "x")])
        );
        assert_eq!(
            log.next(rows(&[(0, "x"), (0, "x")])),
            changes(&[(Added, 0, "x")])
        );
    }

    #[test]
    fn a_shared_key_pairs_changes_with_rows_no_unchanged_row_keeps() {
        // Key `comm`: of the two `a` rows one stays, the other becomes pid 9.
        let mut log = ChangeLog::new(Some(vec![1]));
        log.next(rows(&[(1, "a"), (2, "a")]));
        assert_eq!(
            log.next(rows(&[(9, "a"), (2, "a")])),
            changes(&[(Changed, 9, "a")])
        );
    }

    #[test]
    fn a_nan_equals_itself() {
        let mut log = ChangeLog::new(None);
        log.next(vec![vec![Value::Float(f64::NAN)]]);
        assert_eq!(log.next(vec![vec![Value::Float(f64::NAN)]]).len(), 0);
    }
}
