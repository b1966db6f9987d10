//! Stage `user part`: the one user-space evaluator of expressions over decoded values, shared by
//! grouped results (`GExpr`: `having` and result columns) and join filters. Guarantees NULL in,
//! NULL out (a NULL condition holds nowhere), integer arithmetic and register comparisons as the
//! BPF program computes them (`bpfq_compiler::alu`), and one NULL-aware comparison for both.

use std::cmp::Ordering;

use bpfq_compiler::bind::{ArithOp, CmpOp, GExpr, GKind, GTy, Ty};
use bpfq_compiler::layout::TimeKind;

use crate::decode::Value;

/// How two integers compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integers {
    /// As the program's 64-bit registers, with signed or unsigned jumps.
    Registers { signed: bool },
    /// By value, whatever their widths and signedness (join filters: `-1` is not `u64::MAX`).
    ByValue,
}

/// Whether `l op r` holds: None when either is NULL. Integers compare as `integers` says;
/// floats, text, pointers and bytes by value (`compare_values`).
pub fn compare(op: CmpOp, l: &Value, r: &Value, integers: Integers) -> Option<bool> {
    if *l == Value::Null || *r == Value::Null {
        return None;
    }
    Some(match (integers, register(l), register(r)) {
        (Integers::Registers { signed }, Some(a), Some(b)) => {
            bpfq_compiler::alu::compare(op, a, b, signed)
        }
        _ => op.holds(compare_values(l, r)),
    })
}

/// A value as an integer when it is one (enums, booleans and times included).
pub fn integer(value: &Value) -> Option<i128> {
    value.as_integer()
}

/// An integer value as the program's 64-bit register holds it (signed values sign-extended).
fn register(value: &Value) -> Option<u64> {
    match value {
        Value::Float(_) => None,
        other => integer(other).map(|i| i as u64),
    }
}

fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Float(x) => Some(*x),
        other => integer(other).map(|i| i as f64),
    }
}

/// Order of two values of one column (or a value and a constant); NULL first. Numbers compare
/// by value whatever their kind.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    use Value::*;
    match (a, b) {
        (Null, Null) => Ordering::Equal,
        (Null, _) => Ordering::Less,
        (_, Null) => Ordering::Greater,
        (Float(_), _) | (_, Float(_)) => match (float(a), float(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => Ordering::Equal,
        },
        (Text(x), Text(y)) => x.cmp(y),
        (Pointer(x), Pointer(y)) => x.cmp(y),
        (Bytes { bytes: x, .. }, Bytes { bytes: y, .. }) => x.cmp(y),
        _ => match (integer(a), integer(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            // Columns hold one kind of value; mixed kinds only meet in a malformed layout.
            _ => Ordering::Equal,
        },
    }
}

fn truth(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn from_truth(b: Option<bool>) -> Value {
    b.map_or(Value::Null, Value::Bool)
}

/// The values one group's expressions are computed from.
pub struct GroupValues<'v> {
    pub keys: &'v [Value],
    pub aggs: &'v [Value],
}

impl GroupValues<'_> {
    /// The value of `expr` for this group; NULL in, NULL out (a NULL condition fails `having`).
    pub fn eval(&self, expr: &GExpr) -> Value {
        match &expr.kind {
            GKind::Key(k) => self.keys.get(*k).cloned().unwrap_or(Value::Null),
            GKind::Agg(a) => self.aggs.get(*a).cloned().unwrap_or(Value::Null),
            // A literal is a 64-bit signed integer; a typed constant is shown as its type.
            GKind::Int(v) => match &expr.ty {
                GTy::Kernel(t @ Ty::Int { .. }) if !t.is_signed() => Value::UInt(*v),
                _ => Value::Int(*v as i64),
            },
            GKind::Str(s) => Value::Text(String::from_utf8_lossy(s).into_owned()),
            GKind::Neg(inner) => match self.eval(inner) {
                Value::Float(x) => Value::Float(-x),
                other => match integer(&other) {
                    Some(i) => Value::Int(bpfq_compiler::alu::neg(i as u64) as i64),
                    None => Value::Null,
                },
            },
            GKind::BitNot(inner) => {
                let value = self.eval(inner);
                match register(&value) {
                    Some(bits) if matches!(expr.ty, GTy::Kernel(ref t) if t.is_signed()) => {
                        Value::Int(!bits as i64)
                    }
                    Some(bits) => Value::UInt(!bits),
                    None => Value::Null,
                }
            }
            GKind::Not(inner) => from_truth(truth(&self.eval(inner)).map(|b| !b)),
            GKind::And(a, b) => {
                let (a, b) = (truth(&self.eval(a)), truth(&self.eval(b)));
                from_truth(match (a, b) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                })
            }
            GKind::Or(a, b) => {
                let (a, b) = (truth(&self.eval(a)), truth(&self.eval(b)));
                from_truth(match (a, b) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                })
            }
            // Integers as the program's registers compare them; floats and text by value.
            GKind::Compare {
                op,
                lhs,
                rhs,
                signed,
            } => from_truth(compare(
                *op,
                &self.eval(lhs),
                &self.eval(rhs),
                Integers::Registers { signed: *signed },
            )),
            GKind::Arith {
                op,
                lhs,
                rhs,
                signed,
            } => as_time(
                arith(*op, self.eval(lhs), self.eval(rhs), *signed),
                &expr.ty,
            ),
            GKind::Call { func, args } => {
                let values: Vec<Value> = args.iter().map(|arg| self.eval(arg)).collect();
                crate::user_fn::value(*func, &values)
            }
        }
    }
}

/// An integer typed as a time (`now() - task.started` viewed as a `duration`) as that time.
fn as_time(value: Value, ty: &GTy) -> Value {
    match (ty, integer(&value)) {
        (GTy::Kernel(Ty::Time(kind)), Some(ns)) => match kind {
            TimeKind::Duration => Value::Duration(ns as i64),
            TimeKind::Timestamp | TimeKind::BootTimestamp => Value::Timestamp(ns as i64),
        },
        _ => value,
    }
}

/// Arithmetic on group values: floats when an operand is one, else 64-bit integers with the
/// BPF program's semantics (`alu::arith`).
fn arith(op: ArithOp, l: Value, r: Value, signed: bool) -> Value {
    if matches!(l, Value::Float(_)) || matches!(r, Value::Float(_)) {
        let (Some(x), Some(y)) = (float(&l), float(&r)) else {
            return Value::Null;
        };
        return Value::Float(match op {
            ArithOp::Add => x + y,
            ArithOp::Sub => x - y,
            ArithOp::Mul => x * y,
            ArithOp::Div => x / y,
            // The binder accepts only + - * / with floats.
            ArithOp::Rem
            | ArithOp::BitAnd
            | ArithOp::BitOr
            | ArithOp::BitXor
            | ArithOp::Shl
            | ArithOp::Shr => return Value::Null,
        });
    }
    let (Some(a), Some(b)) = (register(&l), register(&r)) else {
        return Value::Null;
    };
    let bits = bpfq_compiler::alu::arith(op, a, b, signed);
    if signed {
        Value::Int(bits as i64)
    } else {
        Value::UInt(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_comparison_for_registers_and_values() {
        let (minus_one, max) = (Value::Int(-1), Value::UInt(u64::MAX));
        // The program's registers: the same 64 bits.
        let registers = Integers::Registers { signed: false };
        assert_eq!(compare(CmpOp::Eq, &minus_one, &max, registers), Some(true));
        // Join filters: values of different signedness compare by value.
        assert_eq!(
            compare(CmpOp::Eq, &minus_one, &max, Integers::ByValue),
            Some(false)
        );
        assert_eq!(
            compare(CmpOp::Lt, &minus_one, &max, Integers::ByValue),
            Some(true)
        );
        assert_eq!(
            compare(CmpOp::Eq, &Value::Null, &max, Integers::ByValue),
            None
        );
    }

    #[test]
    fn integer_arithmetic_follows_the_bpf_program() {
        assert_eq!(
            arith(ArithOp::Div, Value::UInt(7), Value::UInt(0), false),
            Value::UInt(0)
        );
        assert_eq!(
            arith(ArithOp::Rem, Value::UInt(7), Value::UInt(0), false),
            Value::UInt(7)
        );
        assert_eq!(
            arith(ArithOp::Div, Value::Int(-7), Value::Int(2), true),
            Value::Int(-3)
        );
        assert_eq!(
            arith(ArithOp::Mul, Value::Float(1.5), Value::UInt(2), false),
            Value::Float(3.0)
        );
    }
}
