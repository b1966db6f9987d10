//! Stage `lower`: plan -> IR + row layout. Guarantees: the program NULL-checks the iterator's
//! object before touching it (the last call has it NULL), zero-fills the row before writing it,
//! evaluates the filter with short-circuit branches, and writes exactly one row per match.

mod d_path;
mod dentry_path;
mod kernfs_path;
use kernfs_path::KernfsWalk;
mod group_update;
mod scalar_fn;
mod segments;
mod sk_storage;
mod text;

pub use text::TEXT_DIFFERENCES;

use crate::bind::{ArithOp, CmpOp, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::ir::{
    BinOp, Block, Cmp, Function, FunctionBuilder, Helper, Inst, MapRef, Operand, Terminator, UnOp,
    Value, Width,
};
use crate::plan::{Plan, RowExit};
use crate::socket_storage::{SocketIterator, SocketIterators};
use bpfq_kernel::{Btf, BtfType, KernelFeatures};
use segments::{segments, words_to_zero};
use std::collections::HashMap;

struct Lowerer<'a> {
    btf: &'a Btf,
    /// The kernel takes cpu v4's signed division (else it is expanded into unsigned division).
    cpu_v4: bool,
    /// The BTF type each kernel pointer value points to, to check loads through it against the
    /// verifier's walk; pointers read with a probe are absent from `direct`.
    pointee_of: HashMap<Value, bpfq_kernel::TypeId>,
    /// Values the verifier sees as plain scalars (probe-read): memory behind them must be
    /// probe-read too.
    probed: std::collections::HashSet<Value>,
    b: FunctionBuilder,
    ctx: Value,
    ctx_fields: HashMap<u32, Value>,
    /// Loads and constants already computed, with the block that computed them: reused where
    /// that block dominates (kernel memory does not change under a running iterator program
    /// in any way the program could observe consistently, so a repeated load adds nothing).
    known: HashMap<Inst, (Value, Block)>,
    /// While storing a nullable column: where to go when a loaded pointer is NULL (created on
    /// the first check, so no unreachable block is ever emitted).
    on_null: Option<Option<Block>>,
    /// Format strings of a text-output program.
    formats: text::FormatTable,
}

fn internal(msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(
        codes::INTERNAL,
        format!("internal error (this is a bug in bpfq): {}", msg.into()),
    )
}

/// The program of `plan`'s target, writing each row as `plan.exit` says, in `plan.layout`.
pub fn lower(plan: &Plan, btf: &Btf, features: &KernelFeatures) -> Result<Function, Diagnostic> {
    lower_with(plan, btf, features, None)
}

/// The program of socket iterator `iterator` for `plan`, a `bpf_sk_storage_map` or `sockmap`
/// query whose rows come from socket iterators (`socket_storage.rs`). The query stays bound
/// against the map-element context; only where its context fields come from changes: instead of
/// loading `ctx->sk` and `ctx->value` (or `ctx->key`), the program loads the iterator's socket
/// (skipping NULL, and for tcp what `bpf_skc_to_tcp_sock` refuses), finds its element
/// (`bpf_sk_storage_get(map, sk, NULL, 0)`, or its cookie's key in `MapRef::SocketKeys`),
/// skipping a socket without one, and lets the columns and filter read those two values where
/// they read the context fields. `meta` and the seq buffer are the socket iterator's. The row
/// layout is the map-element program's (`plan.layout`); each row leaves through the socket
/// iterator's transport.
pub fn lower_sockets(
    plan: &Plan,
    storage: &SocketIterators,
    iterator: &SocketIterator,
    btf: &Btf,
    features: &KernelFeatures,
) -> Result<Function, Diagnostic> {
    let mut socket_plan = plan.clone();
    socket_plan.target = iterator.target.clone();
    socket_plan.exit = RowExit::of_transport(iterator.target.transport);
    lower_with(&socket_plan, btf, features, Some((storage, iterator)))
}

fn lower_with(
    plan: &Plan,
    btf: &Btf,
    features: &KernelFeatures,
    sockets: Option<(&SocketIterators, &SocketIterator)>,
) -> Result<Function, Diagnostic> {
    let layout = &plan.layout;

    let mut b = FunctionBuilder::new();
    let ctx = b.value(Inst::Context);
    let mut l = Lowerer {
        btf,
        cpu_v4: features.cpu_v4,
        pointee_of: HashMap::new(),
        probed: Default::default(),
        b,
        ctx,
        ctx_fields: HashMap::new(),
        known: HashMap::new(),
        on_null: None,
        formats: text::FormatTable::default(),
    };
    let exit = l.b.create_block();
    let text_output = plan.exit == RowExit::Text;
    let segments = segments(layout, &plan.kernel.columns)?;
    if text_output {
        text::check(plan, layout, segments.len())?;
        l.print_header(plan, &plan.kernel.columns, exit);
    }

    match sockets {
        None => l.load_context_fields(plan, text_output, exit),
        Some((sockets, iterator)) => l.socket_and_element(plan, sockets, iterator, exit),
    }
    let buffer = segments
        .iter()
        .map(|seg| seg.end - seg.start)
        .max()
        .unwrap_or(8);
    if let Some(filter) = &plan.kernel.filter {
        let body = l.b.create_block();
        l.b.note(format!(
            "where {}",
            plan.kernel.filter_text.as_deref().unwrap_or("")
        ));
        l.cond(filter, body, exit)?;
        l.b.switch_to(body);
    }
    // A row wider than the stack buffer is written in segments, one seq_write (or ring record)
    // each; together they are one object's output, so the reader sees the whole row.
    let kernel_grouping = match (plan.exit, plan.kernel_grouping()) {
        (RowExit::KernelGroups, Some(k)) if segments.len() == 1 => Some(k),
        (RowExit::KernelGroups, _) => {
            return Err(internal("a kernel-grouped row must be one segment"))
        }
        _ => None,
    };
    let ring = match plan.exit {
        RowExit::Ring => true,
        RowExit::Seq | RowExit::Text | RowExit::KernelGroups => false,
        RowExit::NoProgram => return Err(internal("lowering a plan without a program")),
    };
    // Ring transport: where a failed ring write goes (created on first use).
    let mut ring_full: Option<Block> = None;
    for (index, segment) in segments.iter().enumerate() {
        let words = words_to_zero(layout, &plan.kernel.columns, segment);
        if !words.is_empty() {
            l.b.note("zero the row bytes no column fully overwrites");
            l.b.effect(Inst::ZeroRow { words });
        }
        for part in &segment.parts {
            let (column, placed) = (
                &plan.kernel.columns[part.column],
                &layout.columns[part.column],
            );
            l.b.note(format!("column {}", column.name));
            let flag = placed.null_flag.map(|f| f - segment.start);
            if part.from == 0 && part.to == placed.kind.width() {
                l.store_column(&column.expr, placed.offset - segment.start, flag)?;
            } else {
                l.copy_part(
                    &column.expr,
                    placed.offset + part.from - segment.start,
                    part.from,
                    part.to - part.from,
                )?;
            }
        }
        let what = if segments.len() == 1 {
            "emit the row".to_string()
        } else {
            format!("emit row bytes {}..{}", segment.start, segment.end)
        };
        let len = segment.end - segment.start;
        if let Some(k) = kernel_grouping {
            l.group_update(plan, k, exit);
        } else if ring {
            l.b.note(format!("{what} into the ring buffer"));
            let status = l.b.value(Inst::RingOutput {
                map: MapRef::RowRing,
                len,
            });
            let full = *ring_full.get_or_insert_with(|| l.b.create_block());
            let last = index + 1 == segments.len();
            let next = if last { exit } else { l.b.create_block() };
            l.b.terminate(Terminator::Branch {
                cmp: Cmp::Ne,
                lhs: status,
                rhs: Operand::Imm(0),
                then_to: full,
                else_to: next,
            });
            if !last {
                l.b.switch_to(next);
            }
        } else if text_output {
            l.print_row(plan, layout)?;
        } else {
            l.b.note(what);
            l.seq_write(plan, len);
        }
    }
    if !ring && kernel_grouping.is_none() {
        l.b.terminate(Terminator::Jump(exit));
    }
    if let Some(full) = ring_full {
        // The only bytes this program ever writes to the seq buffer: user space sees them,
        // drops what the ring holds and runs the walk again with a bigger ring.
        l.b.switch_to(full);
        l.b.note("the ring buffer is full: write a 1-byte marker to the seq buffer");
        l.seq_write(plan, 1);
        l.b.terminate(Terminator::Jump(exit));
    }
    l.b.switch_to(exit);
    l.b.terminate(Terminator::Return(0));
    let buffer = kernel_grouping.map_or(buffer, |k| k.buffer_size());
    let mut function = l.b.finish(buffer);
    function.formats = l.formats.bytes;
    Ok(function)
}

impl Lowerer<'_> {
    /// Loads every context pointer the query reads (and the main object, which marks the end of
    /// the iteration when NULL) once, up front, so no later block depends on a conditional load;
    /// a NULL one skips the object.
    fn load_context_fields(&mut self, plan: &Plan, text_output: bool, exit: Block) {
        let mut offsets = vec![plan.target.object_offset];
        for column in &plan.kernel.columns {
            collect_ctx_fields(&column.expr, &mut offsets);
        }
        if let Some(filter) = &plan.kernel.filter {
            collect_ctx_fields(filter, &mut offsets);
        }
        offsets.sort_unstable();
        offsets.dedup();
        self.b.note(format!(
            "skip the object when a context pointer is NULL (the final call has {} = NULL)",
            plan.target.object_field
        ));
        for offset in offsets {
            let value = self.pure(Inst::Load {
                base: self.ctx,
                offset: offset as i32,
                width: Width::B8,
                signed: false,
            });
            self.ctx_fields.insert(offset, value);
            if text_output && offset == plan.target.object_offset {
                // Checked before the header already.
                continue;
            }
            self.skip_if_null(value, exit);
        }
    }

    /// Goes on in a new block when `value` is not 0, to `exit` when it is.
    fn skip_if_null(&mut self, value: Value, exit: Block) {
        let next = self.b.create_block();
        self.b.terminate(Terminator::Branch {
            cmp: Cmp::Eq,
            lhs: value,
            rhs: Operand::Imm(0),
            then_to: exit,
            else_to: next,
        });
        self.b.switch_to(next);
    }
}

/// The offsets of the context pointer fields `expr` reads.
fn collect_ctx_fields(expr: &TExpr, out: &mut Vec<u32>) {
    expr.visit_ctx_fields(&mut |_, offset| out.push(offset));
}

/// A 32-bit immediate that sign-extends to exactly `value`.
fn as_imm(value: u64) -> Option<i32> {
    i32::try_from(value as i64).ok()
}

fn cmp_of(op: CmpOp, signed: bool) -> Cmp {
    match (op, signed) {
        (CmpOp::Eq, _) => Cmp::Eq,
        (CmpOp::Ne, _) => Cmp::Ne,
        (CmpOp::Lt, false) => Cmp::ULt,
        (CmpOp::Le, false) => Cmp::ULe,
        (CmpOp::Gt, false) => Cmp::UGt,
        (CmpOp::Ge, false) => Cmp::UGe,
        (CmpOp::Lt, true) => Cmp::SLt,
        (CmpOp::Le, true) => Cmp::SLe,
        (CmpOp::Gt, true) => Cmp::SGt,
        (CmpOp::Ge, true) => Cmp::SGe,
    }
}

impl Lowerer<'_> {
    /// `bpf_seq_write(ctx->meta->seq, row, len)`.
    fn seq_write(&mut self, plan: &Plan, len: u32) {
        let seq = self.seq(plan);
        self.b.effect(Inst::Call {
            helper: Helper::SeqWrite,
            seq,
            len,
        });
    }

    /// `ctx->meta`.
    fn meta(&mut self, plan: &Plan) -> Value {
        self.pure(Inst::Load {
            base: self.ctx,
            offset: plan.target.meta_offset as i32,
            width: Width::B8,
            signed: false,
        })
    }

    /// `ctx->meta->seq`, the seq_file the iterator's output goes to.
    fn seq(&mut self, plan: &Plan) -> Value {
        let meta = self.meta(plan);
        self.pure(Inst::Load {
            base: meta,
            offset: plan.target.seq_offset as i32,
            width: Width::B8,
            signed: false,
        })
    }

    /// Emits a load or constant, or reuses an identical one whose block dominates this one.
    fn pure(&mut self, inst: Inst) -> Value {
        if let Some(&(value, block)) = self.known.get(&inst) {
            if self.b.dominates_current(block) {
                return value;
            }
        }
        let emitted = match inst {
            Inst::Load {
                base,
                offset,
                width,
                signed,
            } if !self.direct(base, offset, width.bytes()) => {
                let value = self.b.value(Inst::ProbeLoad {
                    base,
                    offset,
                    width,
                    signed,
                });
                self.probed.insert(value);
                value
            }
            _ => self.b.value(inst.clone()),
        };
        self.known.insert(inst, (emitted, self.b.current()));
        emitted
    }

    /// Whether `size` bytes at `base + offset` may be loaded directly: `base` is a BTF pointer
    /// (not probe-read) and the verifier's walk of its type accepts the access.
    fn direct(&self, base: Value, offset: i32, size: u32) -> bool {
        if self.probed.contains(&base) {
            return false;
        }
        match (self.pointee_of.get(&base), u32::try_from(offset)) {
            (Some(&pointee), Ok(offset)) => self
                .btf
                .direct_load_allowed(pointee, offset, size)
                .unwrap_or(false),
            (Some(_), Err(_)) => false,
            // Context and meta pointers: their fields are always loadable.
            (None, _) => true,
        }
    }

    /// A pointer to dereference. Inside a nullable column, a pointer loaded from memory is
    /// tested first: NULL sends the column to its null path instead of reading 0s.
    fn pointer(&mut self, ptr: &TExpr) -> Result<Value, Diagnostic> {
        let value = self.value(ptr)?;
        if let (Some(target), TKind::Load { .. } | TKind::StructCast { .. }) =
            (&mut self.on_null, &ptr.kind)
        {
            let null_block = *target.get_or_insert_with(|| self.b.create_block());
            let next = self.b.create_block();
            self.b.terminate(Terminator::Branch {
                cmp: Cmp::Eq,
                lhs: value,
                rhs: Operand::Imm(0),
                then_to: null_block,
                else_to: next,
            });
            self.b.switch_to(next);
        }
        Ok(value)
    }

    fn value(&mut self, expr: &TExpr) -> Result<Value, Diagnostic> {
        let value = self.value_inner(expr)?;
        if let Ty::Ptr { pointee } = expr.ty {
            if self
                .btf
                .get(pointee)
                .is_ok_and(|t| matches!(t, BtfType::Struct { .. } | BtfType::Union { .. }))
            {
                self.pointee_of.insert(value, pointee);
            }
        }
        Ok(value)
    }

    fn value_inner(&mut self, expr: &TExpr) -> Result<Value, Diagnostic> {
        Ok(match &expr.kind {
            TKind::CtxField { offset, .. } => *self
                .ctx_fields
                .get(offset)
                .ok_or_else(|| internal("context field not preloaded"))?,
            TKind::Load {
                ptr,
                offset,
                bytes,
                signed,
                bitfield,
            } => {
                let base = self.pointer(ptr)?;
                let width = Width::from_bytes(u32::from(*bytes))
                    .ok_or_else(|| internal("bad load width"))?;
                let offset = i32::try_from(*offset).map_err(|_| internal("offset too large"))?;
                match bitfield {
                    None => self.pure(Inst::Load {
                        base,
                        offset,
                        width,
                        signed: *signed,
                    }),
                    Some((bit, bits)) => {
                        let unit = self.pure(Inst::Load {
                            base,
                            offset,
                            width,
                            signed: false,
                        });
                        self.extend(unit, *bits, *bit, *signed)
                    }
                }
            }
            TKind::Int(c) => self.pure(Inst::Const(*c)),
            TKind::BoolToInt { cond } => {
                // 0 in a slot, 1 stored only when the condition holds; read at the join.
                let slot = self.b.new_slot();
                self.b.effect(Inst::SlotStore {
                    slot,
                    value: Operand::Imm(0),
                });
                let (set, join) = (self.b.create_block(), self.b.create_block());
                self.cond(cond, set, join)?;
                self.b.switch_to(set);
                self.b.effect(Inst::SlotStore {
                    slot,
                    value: Operand::Imm(1),
                });
                self.b.terminate(Terminator::Jump(join));
                self.b.switch_to(join);
                self.b.value(Inst::SlotLoad { slot })
            }
            TKind::Call { func, args } => self.call(*func, args)?,
            TKind::ByteSwap { value, bytes } => {
                let arg = self.value(value)?;
                self.b.value(Inst::Unary {
                    op: UnOp::ByteSwap(*bytes),
                    arg,
                })
            }
            TKind::CtxValue {
                offset,
                bytes,
                signed,
                ..
            } => {
                let width = Width::from_bytes(u32::from(*bytes))
                    .ok_or_else(|| internal("bad context field width"))?;
                let offset = i32::try_from(*offset).map_err(|_| internal("offset too large"))?;
                self.pure(Inst::Load {
                    base: self.ctx,
                    offset,
                    width,
                    signed: *signed,
                })
            }
            TKind::StructCast {
                value,
                target,
                kfunc: Some(kfunc),
            } => {
                let ptr = self.value(value)?;
                self.b.value(Inst::CastPointer {
                    ptr,
                    btf_type: target.0,
                    kfunc: Some(kfunc.0),
                })
            }
            TKind::StructCast {
                value,
                target,
                kfunc: None,
            } => {
                // Not a `target` to the verifier (it keeps the type of `ptr`, if any): every
                // load through it, and through pointers read from it (which `pure` marks in
                // turn), is a probe read.
                let ptr = self.value(value)?;
                let cast = self.pure(Inst::CastPointer {
                    ptr,
                    btf_type: target.0,
                    kfunc: None,
                });
                self.probed.insert(cast);
                cast
            }
            TKind::Cast {
                value,
                bytes,
                signed,
            } => {
                let v = self.value(value)?;
                self.extend(v, u32::from(*bytes) * 8, 0, *signed)
            }
            TKind::Neg(e) => {
                let arg = self.value(e)?;
                self.b.value(Inst::Unary { op: UnOp::Neg, arg })
            }
            TKind::BitNot(e) => {
                let arg = self.value(e)?;
                self.b.value(Inst::Unary {
                    op: UnOp::BitNot,
                    arg,
                })
            }
            TKind::Arith {
                op,
                lhs,
                rhs,
                signed,
            } => {
                let lhs = self.value(lhs)?;
                let rhs = match (op, &rhs.kind) {
                    // The verifier refuses a constant shift count outside 0..=63; a count in a
                    // register is taken modulo 64 by BPF, and constant folding does the same.
                    (ArithOp::Shl | ArithOp::Shr, TKind::Int(count)) => {
                        Operand::Imm((count & 63) as i32)
                    }
                    _ => self.operand(rhs)?,
                };
                if matches!(op, ArithOp::Div | ArithOp::Rem) && *signed && !self.cpu_v4 {
                    return Ok(self.signed_division(lhs, rhs, *op == ArithOp::Rem));
                }
                let op = match (op, signed) {
                    (ArithOp::Add, _) => BinOp::Add,
                    (ArithOp::Sub, _) => BinOp::Sub,
                    (ArithOp::Mul, _) => BinOp::Mul,
                    (ArithOp::Div, false) => BinOp::UDiv,
                    (ArithOp::Div, true) => BinOp::SDiv,
                    (ArithOp::Rem, false) => BinOp::URem,
                    (ArithOp::Rem, true) => BinOp::SRem,
                    (ArithOp::BitAnd, _) => BinOp::And,
                    (ArithOp::BitOr, _) => BinOp::Or,
                    (ArithOp::BitXor, _) => BinOp::Xor,
                    (ArithOp::Shl, _) => BinOp::Shl,
                    (ArithOp::Shr, false) => BinOp::LShr,
                    (ArithOp::Shr, true) => BinOp::AShr,
                };
                self.b.value(Inst::Binary { op, lhs, rhs })
            }
            _ => {
                return Err(internal(format!(
                    "a {} is not a register value",
                    expr.ty.describe()
                )))
            }
        })
    }

    /// `lhs / rhs` (or `lhs % rhs` when `rem`) on signed 64-bit values without cpu v4's
    /// sdiv/smod, with exactly their results: the unsigned division of the magnitudes
    /// (`|a| = (a ^ sa) - sa` with `sa = a s>> 63`), then the sign put back: the quotient's is
    /// `sa ^ sb`, the remainder's the dividend's. So x / 0 = 0 and x % 0 = x (unsigned division
    /// gives 0 and |x|), INT64_MIN / -1 = INT64_MIN (|INT64_MIN| is 2^63 unsigned).
    fn signed_division(&mut self, lhs: Value, rhs: Operand, rem: bool) -> Value {
        // Sign masks and magnitudes are pure: reused by another division of the same operands.
        let (abs_a, sign_a) = self.magnitude(lhs);
        // The divisor's magnitude and sign: folded when it is a constant.
        let (abs_b, sign_b) = match rhs {
            Operand::Imm(c) => {
                let magnitude = i64::from(c).unsigned_abs();
                let abs_b = match i32::try_from(magnitude) {
                    Ok(imm) => Operand::Imm(imm),
                    Err(_) => Operand::Value(self.pure(Inst::Const(magnitude))),
                };
                (abs_b, Err(c < 0))
            }
            Operand::Value(b) => {
                let (abs_b, sign_b) = self.magnitude(b);
                (Operand::Value(abs_b), Ok(sign_b))
            }
        };
        let mut bin = |op, lhs, rhs| self.b.value(Inst::Binary { op, lhs, rhs });
        let divided = bin(if rem { BinOp::URem } else { BinOp::UDiv }, abs_a, abs_b);
        // All ones when the result is negative: the dividend's sign for a remainder.
        let sign = match (rem, sign_b) {
            (true, _) | (false, Err(false)) => sign_a,
            (false, Err(true)) => bin(BinOp::Xor, sign_a, Operand::Imm(-1)),
            (false, Ok(sign_b)) => bin(BinOp::Xor, sign_a, Operand::Value(sign_b)),
        };
        let flipped = bin(BinOp::Xor, divided, Operand::Value(sign));
        bin(BinOp::Sub, flipped, Operand::Value(sign))
    }

    /// `(|v|, v s>> 63)`: the magnitude of a signed value (2^63 for INT64_MIN, unsigned) and its
    /// sign mask (all ones when negative).
    fn magnitude(&mut self, v: Value) -> (Value, Value) {
        let sign = self.pure(Inst::Binary {
            op: BinOp::AShr,
            lhs: v,
            rhs: Operand::Imm(63),
        });
        let flipped = self.pure(Inst::Binary {
            op: BinOp::Xor,
            lhs: v,
            rhs: Operand::Value(sign),
        });
        let magnitude = self.pure(Inst::Binary {
            op: BinOp::Sub,
            lhs: flipped,
            rhs: Operand::Value(sign),
        });
        (magnitude, sign)
    }

    fn operand(&mut self, expr: &TExpr) -> Result<Operand, Diagnostic> {
        if let TKind::Int(c) = expr.kind {
            if let Some(imm) = as_imm(c) {
                return Ok(Operand::Imm(imm));
            }
        }
        Ok(Operand::Value(self.value(expr)?))
    }

    /// Ends the current block by branching to `yes` when `expr` holds, else to `no`.
    fn cond(&mut self, expr: &TExpr, yes: Block, no: Block) -> Result<(), Diagnostic> {
        match &expr.kind {
            TKind::And(a, b) => {
                let mid = self.b.create_block();
                self.cond(a, mid, no)?;
                self.b.switch_to(mid);
                self.cond(b, yes, no)
            }
            TKind::Or(a, b) => {
                let mid = self.b.create_block();
                self.cond(a, yes, mid)?;
                self.b.switch_to(mid);
                self.cond(b, yes, no)
            }
            TKind::Not(a) => self.cond(a, no, yes),
            TKind::Compare {
                op,
                lhs,
                rhs,
                signed,
            } => {
                let (op, lhs, rhs) = crate::bind::literal_right(*op, lhs, rhs);
                let lhs = self.value(lhs)?;
                let rhs = self.operand(rhs)?;
                self.b.terminate(Terminator::Branch {
                    cmp: cmp_of(op, *signed),
                    lhs,
                    rhs,
                    then_to: yes,
                    else_to: no,
                });
                Ok(())
            }
            TKind::TextEq {
                text,
                literal,
                negated,
            } => {
                let (on_equal, on_differ) = if *negated { (no, yes) } else { (yes, no) };
                self.text_eq(text, literal, on_equal, on_differ)
            }
            TKind::Like {
                text,
                pattern,
                negated,
            } => {
                let (on_match, on_miss) = if *negated { (no, yes) } else { (yes, no) };
                self.like(text, pattern, on_match, on_miss)
            }
            TKind::Load { .. } if expr.ty == Ty::Bool => {
                let v = self.value(expr)?;
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Ne,
                    lhs: v,
                    rhs: Operand::Imm(0),
                    then_to: yes,
                    else_to: no,
                });
                Ok(())
            }
            _ => Err(internal(format!(
                "a {} used as a condition",
                expr.ty.describe()
            ))),
        }
    }

    /// Bits `[bit, bit + bits)` of `v`, zero- or sign-extended to 64 bits (two shifts).
    fn extend(&mut self, v: Value, bits: u32, bit: u32, signed: bool) -> Value {
        if bits >= 64 {
            return v;
        }
        let up = (64 - bit - bits) as i32;
        let raised = if up == 0 {
            v
        } else {
            self.b.value(Inst::Binary {
                op: BinOp::Shl,
                lhs: v,
                rhs: Operand::Imm(up),
            })
        };
        let down = if signed { BinOp::AShr } else { BinOp::LShr };
        self.b.value(Inst::Binary {
            op: down,
            lhs: raised,
            rhs: Operand::Imm(64 - bits as i32),
        })
    }

    /// Glob matching of a C string in a char array, unrolled at compile time into a forward-only
    /// search: `%`-separated segments are placed leftmost-first (which is exact for globs whose
    /// only wildcards are `%` and `_`), one block per (segment, start position).
    fn like(
        &mut self,
        text: &TExpr,
        pattern: &[u8],
        on_match: Block,
        on_miss: Block,
    ) -> Result<(), Diagnostic> {
        let (TKind::Place { ptr, offset }, Ty::Chars { len }) = (&text.kind, &text.ty) else {
            return Err(internal("`like` on something other than a char array"));
        };
        let base = self.pointer(ptr)?;
        let start = i32::try_from(*offset).map_err(|_| internal("offset too large"))?;
        let len = *len as usize;
        // `%%` is `%`: empty middle segments match anywhere and are dropped.
        let pieces: Vec<&[u8]> = pattern.split(|b| *b == b'%').collect();
        let final_piece = pieces.len() - 1;
        let segments: Vec<&[u8]> = pieces
            .iter()
            .enumerate()
            .filter(|(i, piece)| *i == 0 || *i == final_piece || !piece.is_empty())
            .map(|(_, piece)| *piece)
            .collect();
        let last = segments.len() - 1;
        // Tests byte `at` against a pattern byte; `_` means "any byte but the end of the string".
        let byte_test = |this: &mut Self, at: usize, want: u8, ok: Block, fail: Block| {
            let got = this.pure(Inst::Load {
                base,
                offset: start + at as i32,
                width: Width::B1,
                signed: false,
            });
            let (cmp, rhs) = if want == b'_' {
                (Cmp::Ne, 0)
            } else {
                (Cmp::Eq, i32::from(want))
            };
            this.b.terminate(Terminator::Branch {
                cmp,
                lhs: got,
                rhs: Operand::Imm(rhs),
                then_to: ok,
                else_to: fail,
            });
        };
        // Matches `segment` at `at`, then continues in `then`; any mismatch goes to `fail`.
        let segment_at = |this: &mut Self, segment: &[u8], at: usize, then: Block, fail: Block| {
            if at + segment.len() > len {
                this.b.terminate(Terminator::Jump(fail));
                return;
            }
            for (i, &want) in segment.iter().enumerate() {
                let next = if i + 1 == segment.len() {
                    then
                } else {
                    this.b.create_block()
                };
                byte_test(this, at + i, want, next, fail);
                if next != then {
                    this.b.switch_to(next);
                }
            }
            if segment.is_empty() {
                this.b.terminate(Terminator::Jump(then));
            }
        };
        // Ends at position `at`: the array ends there or holds the terminating NUL.
        let ends_at = |this: &mut Self, at: usize, ok: Block, fail: Block| {
            if at == len {
                this.b.terminate(Terminator::Jump(ok));
            } else {
                byte_test(this, at, 0, ok, fail);
            }
        };

        if last == 0 {
            let tail = self.b.create_block();
            segment_at(self, segments[0], 0, tail, on_miss);
            if segments[0].len() <= len {
                self.b.switch_to(tail);
                ends_at(self, segments[0].len(), on_match, on_miss);
            }
            return Ok(());
        }
        // The prefix is anchored at 0; middle segments search forward; the suffix must end the string.
        let mut reached: Vec<Vec<Option<Block>>> = vec![vec![None; len + 2]; last + 1];
        let after_prefix = self.b.create_block();
        reached[1][segments[0].len().min(len + 1)] = Some(after_prefix);
        segment_at(self, segments[0], 0, after_prefix, on_miss);
        for (index, segment) in segments.iter().enumerate().skip(1) {
            for at in 0..=len {
                let Some(here) = reached[index][at] else {
                    continue;
                };
                self.b.switch_to(here);
                if index == last && segment.is_empty() {
                    self.b.terminate(Terminator::Jump(on_match));
                    continue;
                }
                // Try the next start position when this one fails, unless the string ends here.
                let retry = if at < len {
                    let retry =
                        *reached[index][at + 1].get_or_insert_with(|| self.b.create_block());
                    let not_end = self.b.create_block();
                    byte_test(self, at, 0, on_miss, not_end);
                    self.b.switch_to(not_end);
                    retry
                } else {
                    on_miss
                };
                if index == last {
                    let tail = self.b.create_block();
                    segment_at(self, segment, at, tail, retry);
                    if at + segment.len() <= len {
                        self.b.switch_to(tail);
                        ends_at(self, at + segment.len(), on_match, retry);
                    }
                } else {
                    let end = (at + segment.len()).min(len + 1);
                    let found =
                        *reached[index + 1][end].get_or_insert_with(|| self.b.create_block());
                    segment_at(self, segment, at, found, retry);
                }
            }
        }
        Ok(())
    }

    /// C-string equality of a char array with a literal: compares the literal's bytes and its
    /// terminating NUL (when the array has room for it), in loads that stay inside the array.
    fn text_eq(
        &mut self,
        text: &TExpr,
        literal: &[u8],
        on_equal: Block,
        on_differ: Block,
    ) -> Result<(), Diagnostic> {
        let (TKind::Place { ptr, offset }, Ty::Chars { len }) = (&text.kind, &text.ty) else {
            return Err(internal(
                "text comparison on something other than a char array",
            ));
        };
        let base = self.value(ptr)?;
        let compared = (literal.len() + 1).min(*len as usize);
        let mut expected = literal.to_vec();
        expected.resize(compared, 0);
        let mut done = 0usize;
        while done < compared {
            let chunk = [8usize, 4, 2, 1]
                .into_iter()
                .find(|c| *c <= compared - done)
                .unwrap_or(1);
            let mut bytes = [0u8; 8];
            bytes[..chunk].copy_from_slice(&expected[done..done + chunk]);
            let want = u64::from_le_bytes(bytes);
            let width = Width::from_bytes(chunk as u32).ok_or_else(|| internal("bad chunk"))?;
            let at =
                i32::try_from(*offset as usize + done).map_err(|_| internal("offset too large"))?;
            let got = self.pure(Inst::Load {
                base,
                offset: at,
                width,
                signed: false,
            });
            let rhs = match as_imm(want) {
                Some(imm) if imm >= 0 => Operand::Imm(imm),
                _ => Operand::Value(self.pure(Inst::Const(want))),
            };
            done += chunk;
            if done == compared {
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Eq,
                    lhs: got,
                    rhs,
                    then_to: on_equal,
                    else_to: on_differ,
                });
            } else {
                let next = self.b.create_block();
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Ne,
                    lhs: got,
                    rhs,
                    then_to: on_differ,
                    else_to: next,
                });
                self.b.switch_to(next);
            }
        }
        Ok(())
    }

    /// Stores a column; with a null flag, a NULL pointer on the way sets the flag instead.
    fn store_column(
        &mut self,
        expr: &TExpr,
        row_offset: u32,
        null_flag: Option<u32>,
    ) -> Result<(), Diagnostic> {
        let Some(flag) = null_flag else {
            return self.store_value(expr, row_offset);
        };
        self.on_null = Some(None);
        let stored = self.store_value(expr, row_offset);
        let null_block = self.on_null.take().flatten();
        stored?;
        if let Some(null_block) = null_block {
            let join = self.b.create_block();
            self.b.terminate(Terminator::Jump(join));
            self.b.switch_to(null_block);
            self.b.effect(Inst::StoreRow {
                offset: flag,
                width: Width::B1,
                value: Operand::Imm(1),
            });
            self.b.terminate(Terminator::Jump(join));
            self.b.switch_to(join);
        }
        Ok(())
    }

    /// Bytes `[from, from + len)` of a column that is a plain copy from memory, into the row at
    /// `row_offset` (a piece of a column split across segments).
    fn copy_part(
        &mut self,
        expr: &TExpr,
        row_offset: u32,
        from: u32,
        len: u32,
    ) -> Result<(), Diagnostic> {
        let TKind::Place { ptr, offset } = &expr.kind else {
            return Err(internal("only byte copies are split across segments"));
        };
        let base = self.pointer(ptr)?;
        let src_offset = i32::try_from(offset + from).map_err(|_| internal("offset too large"))?;
        if self.direct(base, src_offset, len) {
            self.b.effect(Inst::CopyToRow {
                offset: row_offset,
                base,
                src_offset,
                len,
            });
        } else {
            self.b.effect(Inst::ProbeCopyToRow {
                offset: row_offset,
                base,
                src_offset,
                len,
            });
        }
        Ok(())
    }

    fn store_value(&mut self, expr: &TExpr, row_offset: u32) -> Result<(), Diagnostic> {
        match (&expr.kind, &expr.ty) {
            (TKind::DPath { path, max }, _) => self.store_d_path(path, row_offset, *max)?,
            (
                TKind::KernfsPath {
                    node,
                    parent_offset,
                    name_offset,
                },
                Ty::KernfsPath { levels, slot, .. },
            ) => self.store_kernfs_path(
                node,
                row_offset,
                KernfsWalk {
                    parent_offset: *parent_offset,
                    name_offset: *name_offset,
                    levels: *levels,
                    slot: *slot,
                },
            )?,
            (TKind::DentryPath { path, walk }, Ty::DentryPath { levels, slot }) => {
                self.store_dentry_path(path, walk, row_offset, *levels, *slot)?
            }
            (TKind::InetAddr { family, v4, v6 }, _) => {
                // Only the family's own field, so equal addresses are equal bytes (one group).
                let family_value = self.value(family)?;
                self.b.effect(Inst::StoreRow {
                    offset: row_offset,
                    width: Width::B2,
                    value: Operand::Value(family_value),
                });
                let (inet6, inet, join) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Eq,
                    lhs: family_value,
                    rhs: Operand::Imm(i32::from(crate::address::AF_INET6)),
                    then_to: inet6,
                    else_to: inet,
                });
                self.b.switch_to(inet6);
                self.store_value(v6, row_offset + crate::layout::INET_ADDR_V6)?;
                self.b.terminate(Terminator::Jump(join));
                self.b.switch_to(inet);
                self.store_value(v4, row_offset + crate::layout::INET_ADDR_V4)?;
                self.b.terminate(Terminator::Jump(join));
                self.b.switch_to(join);
            }
            (TKind::CString { ptr, max }, _) => {
                let base = self.pointer(ptr)?;
                self.b.effect(Inst::ProbeStrToRow {
                    offset: row_offset,
                    base,
                    len: *max,
                });
            }
            (
                TKind::Place { ptr, offset },
                Ty::Chars { .. } | Ty::Struct { .. } | Ty::Array { .. } | Ty::Bytes { .. },
            ) => {
                let len = match &expr.ty {
                    Ty::Chars { len } | Ty::Bytes { len } => *len,
                    Ty::Struct { id } => {
                        self.btf.size_of(*id).map_err(|e| internal(e.to_string()))?
                    }
                    Ty::Array { elem, len } => {
                        self.btf
                            .size_of(*elem)
                            .map_err(|e| internal(e.to_string()))?
                            * len
                    }
                    _ => 0,
                };
                let len = &len;
                let base = self.pointer(ptr)?;
                let src_offset =
                    i32::try_from(*offset).map_err(|_| internal("offset too large"))?;
                let (offset, len) = (row_offset, *len);
                if self.direct(base, src_offset, len) {
                    self.b.effect(Inst::CopyToRow {
                        offset,
                        base,
                        src_offset,
                        len,
                    });
                } else {
                    self.b.effect(Inst::ProbeCopyToRow {
                        offset,
                        base,
                        src_offset,
                        len,
                    });
                }
            }
            (_, Ty::Bool) => {
                // The row is zero-filled: only the true case stores.
                let set = self.b.create_block();
                let join = self.b.create_block();
                self.cond(expr, set, join)?;
                self.b.switch_to(set);
                self.b.effect(Inst::StoreRow {
                    offset: row_offset,
                    width: Width::B1,
                    value: Operand::Imm(1),
                });
                self.b.terminate(Terminator::Jump(join));
                self.b.switch_to(join);
            }
            (_, ty) => {
                let width = match ty {
                    Ty::Int { bytes, .. }
                    | Ty::Enum { bytes, .. }
                    | Ty::AddressFamily { bytes } => Width::from_bytes(u32::from(*bytes)),
                    Ty::Ptr { .. } | Ty::Literal | Ty::Time(_) => Some(Width::B8),
                    Ty::Ipv4 => Some(Width::B4),
                    // The bits were masked to 0x87 by the view: the low byte holds them all.
                    Ty::VmaPerms => Some(Width::B1),
                    Ty::Shown(_) => Some(Width::B8),
                    _ => None,
                }
                .ok_or_else(|| {
                    internal(format!("a {} cannot be stored in a row", ty.describe()))
                })?;
                let value = self.operand(expr)?;
                self.b.effect(Inst::StoreRow {
                    offset: row_offset,
                    width,
                    value,
                });
            }
        }
        Ok(())
    }
}
