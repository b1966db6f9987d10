//! Stage `user part` of a join: left-deep hash joins of the rows of the sources' programs on
//! equality keys (the first source's rows with the second's, the pairs with the third's, ...).
//! Guarantees: output in the order of the first source's rows (then the second's, ...), NULL
//! keys never match (as in SQL), integers of different widths or signedness match by value, and
//! a `where` comparison of two sources drops a combination as soon as both are joined; the
//! last step's rows stream out as found, the earlier steps hold at most a given number.

use std::collections::HashMap;
use std::ops::ControlFlow;

use bpfq_compiler::join::{JoinFilter, JoinPlan};
use bpfq_compiler::layout::{ColumnLayout, RowLayout};

use crate::decode::Value;
use crate::eval::{compare, Integers};

/// A join key part that hashes and compares by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyPart {
    Int(i128),
    Text(String),
    Bytes(Vec<u8>),
}

fn key_part(value: &Value) -> Option<KeyPart> {
    Some(match value {
        Value::Int(i) => KeyPart::Int(i128::from(*i)),
        Value::UInt(u) => KeyPart::Int(i128::from(*u)),
        Value::Bool(b) => KeyPart::Int(i128::from(*b)),
        Value::Enum { value, .. } => KeyPart::Int(i128::from(*value)),
        Value::Pointer(p) => KeyPart::Int(i128::from(*p)),
        Value::Timestamp(ns) | Value::Duration(ns) => KeyPart::Int(i128::from(*ns)),
        Value::Text(t) => KeyPart::Text(t.clone()),
        Value::Bytes { bytes, .. } => KeyPart::Bytes(bytes.clone()),
        Value::Null | Value::Float(_) => return None,
    })
}

/// The key of `row` made of `columns`, or None when a part is NULL.
fn key(row: &[Value], columns: impl Iterator<Item = usize>) -> Option<Vec<KeyPart>> {
    columns.map(|c| row.get(c).and_then(key_part)).collect()
}

/// Combinations a join may hold at once by default: those of every step but the last (whose
/// rows stream out), or every result row when they must be sorted. About 100 bytes each.
pub const DEFAULT_MAX_HELD: usize = 1_000_000;

/// A join had to hold more than `limit` combinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyHeld {
    pub limit: usize,
}

/// Every combination of rows (one per source) whose keys are equal, as the values of the join's
/// result columns; `sources[i]` holds source `i`'s rows.
pub fn hash_join(join: &JoinPlan, sources: &[Vec<Vec<Value>>]) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    let _ = hash_join_each(join, sources, usize::MAX, |row| {
        rows.push(row);
        ControlFlow::Continue(())
    });
    rows
}

/// `hash_join`, each result row handed to `emit` as the last step finds it (nothing of the last
/// step is held; `emit` may stop the join). The earlier steps' combinations are held: more than
/// `max_held` of them is `TooManyHeld`.
pub fn hash_join_each(
    join: &JoinPlan,
    sources: &[Vec<Vec<Value>>],
    max_held: usize,
    mut emit: impl FnMut(Vec<Value>) -> ControlFlow<()>,
) -> Result<(), TooManyHeld> {
    let Some(first) = sources.first() else {
        return Ok(());
    };
    // A combination is the index of its row in each source joined so far.
    let mut combos: Vec<Vec<usize>> = (0..first.len()).map(|i| vec![i]).collect();
    for (number, step) in join.steps.iter().enumerate() {
        let last = number + 1 == join.steps.len();
        let Some(rows) = sources.get(step.side) else {
            return Ok(());
        };
        let mut table: HashMap<Vec<KeyPart>, Vec<usize>> = HashMap::new();
        for (index, row) in rows.iter().enumerate() {
            if let Some(k) = key(row, step.keys.iter().map(|k| k.1)) {
                table.entry(k).or_default().push(index);
            }
        }
        let mut next = Vec::new();
        for combo in &combos {
            let earlier: Option<Vec<KeyPart>> = step
                .keys
                .iter()
                .map(|&((side, column), _)| {
                    sources[side][combo[side]].get(column).and_then(key_part)
                })
                .collect();
            let Some(k) = earlier else {
                continue;
            };
            for &index in table.get(&k).map(Vec::as_slice).unwrap_or_default() {
                let mut joined = combo.clone();
                joined.push(index);
                let now = |f: &&JoinFilter| f.lhs.0.max(f.rhs.0) == step.side;
                if !join
                    .after
                    .iter()
                    .filter(now)
                    .all(|f| holds(f, sources, &joined))
                {
                    continue;
                }
                if last {
                    if emit(result_row(join, sources, &joined)).is_break() {
                        return Ok(());
                    }
                } else if next.len() >= max_held {
                    return Err(TooManyHeld { limit: max_held });
                } else {
                    next.push(joined);
                }
            }
        }
        combos = next;
    }
    Ok(())
}

/// The join's result columns of one combination.
fn result_row(join: &JoinPlan, sources: &[Vec<Vec<Value>>], combo: &[usize]) -> Vec<Value> {
    join.columns
        .iter()
        .map(|c| value(sources, combo, (c.side, c.column)))
        .collect()
}

/// Column `column` of source `side`'s row in `combo`.
fn value(sources: &[Vec<Vec<Value>>], combo: &[usize], (side, column): (usize, usize)) -> Value {
    combo
        .get(side)
        .and_then(|&row| sources.get(side)?.get(row)?.get(column))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Whether a combination passes a `where` condition comparing two sources (NULL never does).
fn holds(filter: &JoinFilter, sources: &[Vec<Vec<Value>>], combo: &[usize]) -> bool {
    let (l, r) = (
        value(sources, combo, filter.lhs),
        value(sources, combo, filter.rhs),
    );
    compare(filter.op, &l, &r, Integers::ByValue).unwrap_or(false)
}

/// The layout of the join's result rows (names and kinds; offsets mean nothing).
pub fn result_layout(join: &JoinPlan, sides: &[&RowLayout]) -> RowLayout {
    RowLayout {
        size: 0,
        columns: join
            .columns
            .iter()
            .filter_map(|c| {
                let column = sides.get(c.side)?.columns.get(c.column)?;
                Some(ColumnLayout {
                    name: c.name.clone(),
                    ..column.clone()
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfq_compiler::bind::CmpOp;
    use bpfq_compiler::join::{JoinColumn, JoinStep};

    fn column(side: usize, column: usize) -> JoinColumn {
        JoinColumn {
            name: format!("{side}.{column}"),
            side,
            column,
            hidden: false,
        }
    }

    fn step(side: usize, keys: Vec<((usize, usize), usize)>) -> JoinStep {
        JoinStep {
            side,
            keys,
            on_text: String::new(),
        }
    }

    #[test]
    fn matches_by_value_in_left_order_and_never_on_null() {
        let join = JoinPlan {
            names: vec!["a".into(), "b".into()],
            steps: vec![step(1, vec![((0, 0), 1)])],
            after: vec![],
            columns: vec![column(0, 1), column(1, 0)],
            order_by: vec![],
            limit: None,
            visible: vec![0, 1],
        };
        let text = |s: &str| Value::Text(s.into());
        let left = vec![
            vec![Value::UInt(7), text("seven")],
            vec![Value::Null, text("null")],
            vec![Value::Int(3), text("three")],
            vec![Value::UInt(9), text("nine")],
        ];
        let right = vec![
            vec![text("x"), Value::Int(3)],
            vec![text("y"), Value::UInt(7)],
            vec![text("z"), Value::Null],
            vec![text("w"), Value::UInt(3)],
        ];
        assert_eq!(
            hash_join(&join, &[left, right]),
            vec![
                vec![text("seven"), text("y")],
                vec![text("three"), text("x")],
                vec![text("three"), text("w")],
            ]
        );
    }

    /// a.x == b.x, then c.y == a.y (the third source keyed on the first), and a `where` of
    /// b and c dropping a combination once c is joined.
    #[test]
    fn three_sources_join_left_deep_with_keys_on_any_earlier_source() {
        let join = JoinPlan {
            names: vec!["a".into(), "b".into(), "c".into()],
            steps: vec![step(1, vec![((0, 0), 0)]), step(2, vec![((0, 1), 0)])],
            after: vec![JoinFilter {
                op: CmpOp::Ne,
                lhs: (1, 1),
                rhs: (2, 1),
                text: "b.z != c.z".into(),
            }],
            columns: vec![column(0, 0), column(1, 1), column(2, 1)],
            order_by: vec![],
            limit: None,
            visible: vec![0, 1, 2],
        };
        let int = |i: i64| Value::Int(i);
        let a = vec![
            vec![int(1), int(10)],
            vec![int(2), int(20)],
            vec![int(3), int(30)],
        ];
        let b = vec![
            vec![int(1), int(100)],
            vec![int(2), int(200)],
            vec![int(2), int(201)],
        ];
        let c = vec![
            vec![int(20), int(200)],
            vec![int(20), int(7)],
            vec![int(10), int(8)],
            vec![int(30), int(9)],
        ];
        assert_eq!(
            hash_join(&join, &[a, b, c]),
            vec![
                vec![int(1), int(100), int(8)],
                vec![int(2), int(200), int(7)],
                vec![int(2), int(201), int(200)],
                vec![int(2), int(201), int(7)],
            ]
        );
    }
}
