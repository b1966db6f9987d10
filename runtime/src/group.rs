//! Stage `user part`: grouping and aggregates over the kernel's binary rows, then `having`.
//! Guarantees: groups come out in the order their first row was read (deterministic without
//! `order by`); a query with no group keys gives exactly one group, even over zero rows; NULL
//! arguments (and NULL pointers) are skipped by every aggregate but `count(*)`; integer sums
//! wrap around in 64 bits like the language's integer arithmetic.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use bpfq_compiler::bind::{AggFunc, Grouping};
use bpfq_compiler::layout::{ColumnKind, ColumnLayout, RowLayout};

use crate::decode::{decode_row, Value};
use crate::eval::{compare_values, integer, GroupValues};

/// One aggregate's running state.
#[derive(Debug, Clone)]
enum Acc {
    Count(u64),
    /// The sum's bit pattern (signedness is applied at the end) and whether any value came.
    Sum {
        bits: u64,
        any: bool,
    },
    /// Exact sum and count: the mean is computed once, at the end.
    Avg {
        sum: i128,
        count: u64,
    },
    Min(Option<Value>),
    Max(Option<Value>),
}

/// One aggregate's state for one group as the kernel's group map holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Partial {
    /// `count(*)`: objects; `count(x)`: non-NULL values.
    Count(u64),
    /// The wrapped sum and how many values it adds.
    Sum { bits: u64, count: u64 },
    /// The exact sum and how many values it adds.
    Avg { sum: i128, count: u64 },
    /// `min`/`max`: the best value, None when the group had no non-NULL value.
    Best(Option<Value>),
}

struct Group {
    keys: Vec<Value>,
    accs: Vec<Acc>,
    /// Per aggregate with `distinct`: the argument bytes already counted.
    seen: Vec<HashSet<Vec<u8>>>,
}

/// Groups rows as they are read; `finish` gives the result rows.
pub struct Grouper<'a> {
    grouping: &'a Grouping,
    layout: &'a RowLayout,
    index: HashMap<Vec<u8>, usize>,
    groups: Vec<Group>,
}

/// The bytes of a column in `row`, or None when it is NULL. Text stops at its NUL: bytes after
/// it are not part of the value and must not split a group.
fn column_bytes<'r>(column: &ColumnLayout, row: &'r [u8]) -> Option<&'r [u8]> {
    if let Some(flag) = column.null_flag {
        if row.get(flag as usize) == Some(&1) {
            return None;
        }
    }
    let start = column.offset as usize;
    let bytes = row.get(start..start + column.kind.width() as usize)?;
    Some(match column.kind {
        ColumnKind::Chars { .. } => {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            &bytes[..end]
        }
        _ => bytes,
    })
}

impl<'a> Grouper<'a> {
    pub fn new(grouping: &'a Grouping, layout: &'a RowLayout) -> Grouper<'a> {
        let mut grouper = Grouper {
            grouping,
            layout,
            index: HashMap::new(),
            groups: Vec::new(),
        };
        if grouping.keys.is_empty() {
            grouper.new_group(Vec::new(), Vec::new());
        }
        grouper
    }

    fn new_group(&mut self, key: Vec<u8>, keys: Vec<Value>) -> usize {
        let accs = self
            .grouping
            .aggregates
            .iter()
            .map(|a| match a.func {
                AggFunc::Count => Acc::Count(0),
                AggFunc::Sum => Acc::Sum {
                    bits: 0,
                    any: false,
                },
                AggFunc::Avg => Acc::Avg { sum: 0, count: 0 },
                AggFunc::Min => Acc::Min(None),
                AggFunc::Max => Acc::Max(None),
            })
            .collect();
        let seen = vec![HashSet::new(); self.grouping.aggregates.len()];
        self.groups.push(Group { keys, accs, seen });
        self.index.insert(key, self.groups.len() - 1);
        self.groups.len() - 1
    }

    /// Adds one kernel row to its group.
    pub fn add(&mut self, row: &[u8]) {
        let (group, values) = self.group_of(row);
        let group = &mut self.groups[group];
        for (i, agg) in self.grouping.aggregates.iter().enumerate() {
            let value = match agg.arg {
                None => Value::UInt(1),
                // A NULL pointer is a missing value too (JSON shows it as null).
                Some(arg) => match values.get(arg) {
                    Some(Value::Null | Value::Pointer(0)) | None => continue,
                    Some(v) => v.clone(),
                },
            };
            if agg.distinct {
                let bytes = agg
                    .arg
                    .and_then(|a| self.layout.columns.get(a))
                    .and_then(|c| column_bytes(c, row))
                    .unwrap_or_default();
                if !group.seen[i].insert(bytes.to_vec()) {
                    continue;
                }
            }
            accumulate(&mut group.accs[i], value);
        }
    }

    /// Merges accumulators the kernel computed for a group (`group_map.rs`) into the group of
    /// `row`, a row holding that group's key columns: the same state `add` reaches from the
    /// group's rows. Groups whose keys differ only in bytes after a NUL merge here.
    pub fn add_partial(&mut self, row: &[u8], partials: Vec<Partial>) {
        let (group, _) = self.group_of(row);
        let group = &mut self.groups[group];
        for (acc, partial) in group.accs.iter_mut().zip(partials) {
            match (acc, partial) {
                (Acc::Count(n), Partial::Count(more)) => *n = n.wrapping_add(more),
                (Acc::Sum { bits, any }, Partial::Sum { bits: more, count }) => {
                    *bits = bits.wrapping_add(more);
                    *any |= count > 0;
                }
                (
                    Acc::Avg { sum, count },
                    Partial::Avg {
                        sum: more,
                        count: n,
                    },
                ) => {
                    *sum += more;
                    *count += n;
                }
                (acc @ (Acc::Min(_) | Acc::Max(_)), Partial::Best(Some(value))) => {
                    accumulate(acc, value)
                }
                // No value yet in the kernel's group, or a partial of another aggregate (the
                // reader builds them in the grouping's order, so never).
                _ => {}
            }
        }
    }

    /// The index of `row`'s group (created when new) and the row's decoded values.
    fn group_of(&mut self, row: &[u8]) -> (usize, Vec<Value>) {
        let mut key = Vec::new();
        for &k in &self.grouping.keys {
            match self
                .layout
                .columns
                .get(k)
                .and_then(|c| column_bytes(c, row))
            {
                None => key.push(0),
                Some(bytes) => {
                    key.push(1);
                    key.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                    key.extend_from_slice(bytes);
                }
            }
        }
        let values = decode_row(self.layout, row);
        let group = match self.index.get(&key) {
            Some(&g) => g,
            None => {
                let keys = self
                    .grouping
                    .keys
                    .iter()
                    .map(|&k| values.get(k).cloned().unwrap_or(Value::Null))
                    .collect();
                self.new_group(key, keys)
            }
        };
        (group, values)
    }

    /// Every group that `having` keeps, as the values of the grouping's result columns.
    pub fn finish(self) -> Vec<Vec<Value>> {
        let grouping = self.grouping;
        self.groups
            .into_iter()
            .filter_map(|group| {
                let aggs: Vec<Value> = group
                    .accs
                    .into_iter()
                    .zip(&grouping.aggregates)
                    .map(|(acc, agg)| result(acc, agg.signed))
                    .collect();
                let ctx = GroupValues {
                    keys: &group.keys,
                    aggs: &aggs,
                };
                if let Some(having) = &grouping.having {
                    if ctx.eval(having) != Value::Bool(true) {
                        return None;
                    }
                }
                Some(grouping.columns.iter().map(|c| ctx.eval(&c.expr)).collect())
            })
            .collect()
    }
}

fn accumulate(acc: &mut Acc, value: Value) {
    match acc {
        Acc::Count(n) => *n += 1,
        Acc::Sum { bits, any } => {
            *bits = bits.wrapping_add(integer(&value).unwrap_or(0) as u64);
            *any = true;
        }
        Acc::Avg { sum, count } => {
            *sum += integer(&value).unwrap_or(0);
            *count += 1;
        }
        Acc::Min(best) => {
            if best
                .as_ref()
                .is_none_or(|b| compare_values(&value, b) == Ordering::Less)
            {
                *best = Some(value);
            }
        }
        Acc::Max(best) => {
            if best
                .as_ref()
                .is_none_or(|b| compare_values(&value, b) == Ordering::Greater)
            {
                *best = Some(value);
            }
        }
    }
}

/// The final value of an aggregate: NULL for sum, avg, min and max of no values (as in SQL).
fn result(acc: Acc, signed: bool) -> Value {
    match acc {
        Acc::Count(n) => Value::UInt(n),
        Acc::Sum { any: false, .. } => Value::Null,
        Acc::Sum { bits, .. } if signed => Value::Int(bits as i64),
        Acc::Sum { bits, .. } => Value::UInt(bits),
        Acc::Avg { count: 0, .. } => Value::Null,
        Acc::Avg { sum, count } => Value::Float(sum as f64 / count as f64),
        Acc::Min(v) | Acc::Max(v) => v.unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfq_compiler::bind::{Aggregate, CmpOp, GExpr, GKind, GTy, GroupColumn, Ty};
    use bpfq_compiler::diagnostic::Span;

    fn span() -> Span {
        Span {
            file: 0,
            start: 0,
            end: 0,
        }
    }

    fn column(name: &str, kind: GKind) -> GroupColumn {
        GroupColumn {
            name: name.into(),
            expr: GExpr {
                kind,
                ty: GTy::Kernel(Ty::Literal),
                span: span(),
            },
            hidden: false,
        }
    }

    fn aggregate(func: AggFunc, arg: Option<usize>, distinct: bool, signed: bool) -> Aggregate {
        Aggregate {
            func,
            arg,
            distinct,
            signed,
            text: String::new(),
        }
    }

    /// Rows of (name: char[8], n: u64 nullable).
    fn layout() -> RowLayout {
        RowLayout::pack([
            ("name".to_string(), ColumnKind::Chars { len: 8 }, false),
            (
                "n".to_string(),
                ColumnKind::Int {
                    bytes: 8,
                    signed: false,
                },
                true,
            ),
        ])
    }

    fn row(layout: &RowLayout, name: &[u8], n: Option<u64>) -> Vec<u8> {
        let mut row = vec![0u8; layout.size as usize];
        let [text, number] = &layout.columns[..] else {
            panic!("two columns")
        };
        row[text.offset as usize..][..name.len()].copy_from_slice(name);
        row[number.offset as usize..][..8].copy_from_slice(&n.unwrap_or(0).to_le_bytes());
        row[number.null_flag.unwrap() as usize] = u8::from(n.is_none());
        row
    }

    #[test]
    fn groups_in_first_seen_order_with_nulls_skipped_and_sums_wrapping() {
        let layout = layout();
        let grouping = Grouping {
            keys: vec![0],
            aggregates: vec![
                aggregate(AggFunc::Count, None, false, false),
                aggregate(AggFunc::Count, Some(1), false, false),
                aggregate(AggFunc::Sum, Some(1), false, false),
                aggregate(AggFunc::Count, Some(1), true, false),
            ],
            columns: vec![
                column("name", GKind::Key(0)),
                column("rows", GKind::Agg(0)),
                column("values", GKind::Agg(1)),
                column("sum", GKind::Agg(2)),
                column("distinct", GKind::Agg(3)),
            ],
            having: None,
            having_text: None,
        };
        let mut grouper = Grouper::new(&grouping, &layout);
        // Bytes after a NUL differ but do not split the group.
        grouper.add(&row(&layout, b"b\0junk", Some(u64::MAX)));
        grouper.add(&row(&layout, b"a", None));
        grouper.add(&row(&layout, b"b\0other", Some(2)));
        grouper.add(&row(&layout, b"b", Some(2)));
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            grouper.finish(),
            vec![
                vec![
                    text("b"),
                    Value::UInt(3),
                    Value::UInt(3),
                    Value::UInt(3),
                    Value::UInt(2)
                ],
                vec![
                    text("a"),
                    Value::UInt(1),
                    Value::UInt(0),
                    Value::Null,
                    Value::UInt(0)
                ],
            ]
        );
    }

    #[test]
    fn having_keeps_only_true_groups_and_no_keys_means_one_group() {
        let layout = layout();
        let count = GExpr {
            kind: GKind::Agg(0),
            ty: GTy::Kernel(Ty::Literal),
            span: span(),
        };
        let one = GExpr {
            kind: GKind::Int(1),
            ty: GTy::Kernel(Ty::Literal),
            span: span(),
        };
        let grouping = Grouping {
            keys: vec![],
            aggregates: vec![aggregate(AggFunc::Count, None, false, false)],
            columns: vec![column("n", GKind::Agg(0))],
            having: Some(GExpr {
                kind: GKind::Compare {
                    op: CmpOp::Gt,
                    lhs: Box::new(count),
                    rhs: Box::new(one),
                    signed: false,
                },
                ty: GTy::Kernel(Ty::Bool),
                span: span(),
            }),
            having_text: None,
        };
        let empty = Grouper::new(&grouping, &layout);
        assert_eq!(empty.finish(), Vec::<Vec<Value>>::new(), "0 > 1 fails");
        let mut two = Grouper::new(&grouping, &layout);
        two.add(&row(&layout, b"x", Some(1)));
        two.add(&row(&layout, b"y", None));
        assert_eq!(two.finish(), vec![vec![Value::UInt(2)]]);
    }

    #[test]
    fn kernel_partials_give_the_same_groups_as_rows() {
        let layout = layout();
        let grouping = Grouping {
            keys: vec![0],
            aggregates: vec![
                aggregate(AggFunc::Count, None, false, false),
                aggregate(AggFunc::Sum, Some(1), false, false),
                aggregate(AggFunc::Min, Some(1), false, false),
                aggregate(AggFunc::Avg, Some(1), false, false),
            ],
            columns: vec![
                column("name", GKind::Key(0)),
                column("rows", GKind::Agg(0)),
                column("sum", GKind::Agg(1)),
                column("min", GKind::Agg(2)),
                column("avg", GKind::Agg(3)),
            ],
            having: None,
            having_text: None,
        };
        let mut rows = Grouper::new(&grouping, &layout);
        rows.add(&row(&layout, b"a", Some(4)));
        rows.add(&row(&layout, b"a", Some(u64::MAX)));
        rows.add(&row(&layout, b"b", None));
        // The same groups as a kernel map holds them; "a" split in two elements whose keys
        // differ after the NUL, as a kernel key copied from a char array may.
        let mut partials = Grouper::new(&grouping, &layout);
        partials.add_partial(
            &row(&layout, b"a", None),
            vec![
                Partial::Count(1),
                Partial::Sum { bits: 4, count: 1 },
                Partial::Best(Some(Value::UInt(4))),
                Partial::Avg { sum: 4, count: 1 },
            ],
        );
        partials.add_partial(
            &row(&layout, b"b", None),
            vec![
                Partial::Count(1),
                Partial::Sum { bits: 0, count: 0 },
                Partial::Best(None),
                Partial::Avg { sum: 0, count: 0 },
            ],
        );
        partials.add_partial(
            &row(&layout, b"a\0x", None),
            vec![
                Partial::Count(1),
                Partial::Sum {
                    bits: u64::MAX,
                    count: 1,
                },
                Partial::Best(Some(Value::UInt(u64::MAX))),
                Partial::Avg {
                    sum: i128::from(u64::MAX),
                    count: 1,
                },
            ],
        );
        let mut expected = rows.finish();
        let mut got = partials.finish();
        let by_name = |a: &Vec<Value>, b: &Vec<Value>| compare_values(&a[0], &b[0]);
        expected.sort_by(by_name);
        got.sort_by(by_name);
        assert_eq!(got, expected);
        assert_eq!(got[0][2], Value::UInt(3), "the sum wraps around");
        assert_eq!(got[1][2], Value::Null, "a sum of no values is NULL");
    }
}
