//! Stage `user part` of a join: a hash join of the rows of two sources' programs on equality
//! keys. Guarantees: output in the order of the first source's rows (then the second's), NULL
//! keys never match (as in SQL), and integers of different widths or signedness match by value.

use std::cmp::Ordering;
use std::collections::HashMap;

use bpfq_compiler::bind::CmpOp;
use bpfq_compiler::join::{JoinFilter, JoinPlan};
use bpfq_compiler::layout::{ColumnLayout, RowLayout};

use crate::decode::Value;
use crate::group::compare_values;

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
        Value::Text(t) => KeyPart::Text(t.clone()),
        Value::Bytes(b) => KeyPart::Bytes(b.clone()),
        Value::Null | Value::Float(_) => return None,
    })
}

/// The key of `row` made of `columns`, or None when a part is NULL.
fn key(row: &[Value], columns: impl Iterator<Item = usize>) -> Option<Vec<KeyPart>> {
    columns.map(|c| row.get(c).and_then(key_part)).collect()
}

/// Every pair of rows whose keys are equal, as the values of the join's result columns.
pub fn hash_join(join: &JoinPlan, left: &[Vec<Value>], right: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut table: HashMap<Vec<KeyPart>, Vec<usize>> = HashMap::new();
    for (index, row) in right.iter().enumerate() {
        if let Some(k) = key(row, join.keys.iter().map(|k| k.1)) {
            table.entry(k).or_default().push(index);
        }
    }
    let mut out = Vec::new();
    for row in left {
        let Some(k) = key(row, join.keys.iter().map(|k| k.0)) else {
            continue;
        };
        for &index in table.get(&k).map(Vec::as_slice).unwrap_or_default() {
            let sides = [row, &right[index]];
            if !join.after.iter().all(|f| holds(f, &sides)) {
                continue;
            }
            out.push(
                join.columns
                    .iter()
                    .map(|c| sides[c.side].get(c.column).cloned().unwrap_or(Value::Null))
                    .collect(),
            );
        }
    }
    out
}

/// Whether a pair passes a `where` condition comparing both sources (NULL never does).
fn holds(filter: &JoinFilter, sides: &[&Vec<Value>; 2]) -> bool {
    let value =
        |(side, column): (usize, usize)| sides[side].get(column).cloned().unwrap_or(Value::Null);
    let (l, r) = (value(filter.lhs), value(filter.rhs));
    if l == Value::Null || r == Value::Null {
        return false;
    }
    let ord = compare_values(&l, &r);
    match filter.op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
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
    use bpfq_compiler::join::JoinColumn;

    fn column(side: usize, column: usize) -> JoinColumn {
        JoinColumn {
            name: format!("{side}.{column}"),
            side,
            column,
            hidden: false,
        }
    }

    #[test]
    fn matches_by_value_in_left_order_and_never_on_null() {
        let join = JoinPlan {
            names: vec!["a".into(), "b".into()],
            keys: vec![(0, 1)],
            on_text: String::new(),
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
            hash_join(&join, &left, &right),
            vec![
                vec![text("seven"), text("y")],
                vec![text("three"), text("x")],
                vec![text("three"), text("w")],
            ]
        );
    }
}
