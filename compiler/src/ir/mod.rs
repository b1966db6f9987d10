//! Stage `lower` -> `emit`: the IR. A function is a list of blocks laid out in topological order
//! (every jump goes forward), each holding straight-line instructions over SSA values and one terminator.
//! There are no phis: values computed in a branch are consumed in that branch, and results that
//! must survive a join are written to the row buffer. This keeps liveness a simple interval.

mod builder;
mod display;

pub use builder::FunctionBuilder;

use cranelift_entity::{entity_impl, PrimaryMap, SecondaryMap};

/// An SSA value: a 64-bit register-sized quantity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(u32);
entity_impl!(Value, "v");

/// A basic block.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block(u32);
entity_impl!(Block, "b");

/// Width of a memory access.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Width {
    B1,
    B2,
    B4,
    B8,
}

impl Width {
    pub fn bytes(self) -> u32 {
        match self {
            Width::B1 => 1,
            Width::B2 => 2,
            Width::B4 => 4,
            Width::B8 => 8,
        }
    }

    pub fn from_bytes(bytes: u32) -> Option<Width> {
        match bytes {
            1 => Some(Width::B1),
            2 => Some(Width::B2),
            4 => Some(Width::B4),
            8 => Some(Width::B8),
            _ => None,
        }
    }
}

/// Two-operand integer arithmetic on 64-bit values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    UDiv,
    SDiv,
    URem,
    SRem,
    And,
    Or,
    Xor,
    Shl,
    LShr,
    AShr,
}

/// One-operand integer arithmetic.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum UnOp {
    Neg,
    BitNot,
    /// Reverse the low 2, 4 or 8 bytes (network <-> host order on little-endian CPUs),
    /// zero-extending the result.
    ByteSwap(u8),
}

/// Comparison used by conditional branches (64-bit operands).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cmp {
    Eq,
    Ne,
    ULt,
    ULe,
    UGt,
    UGe,
    SLt,
    SLe,
    SGt,
    SGe,
}

impl Cmp {
    /// The comparison that holds exactly when `self` does not.
    pub fn negate(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Ne,
            Cmp::Ne => Cmp::Eq,
            Cmp::ULt => Cmp::UGe,
            Cmp::ULe => Cmp::UGt,
            Cmp::UGt => Cmp::ULe,
            Cmp::UGe => Cmp::ULt,
            Cmp::SLt => Cmp::SGe,
            Cmp::SLe => Cmp::SGt,
            Cmp::SGt => Cmp::SLe,
            Cmp::SGe => Cmp::SLt,
        }
    }
}

/// A right-hand operand: a value or a 32-bit immediate (sign-extended to 64 bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Operand {
    Value(Value),
    Imm(i32),
}

/// A BPF map the program references; the loader creates it and patches its fd into the
/// `ld_imm64` that loads it (see `bpf::asm::MapRelocation`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MapRef {
    /// The ring buffer the rows go to (`RowTransport::RingBuf`).
    RowRing,
    /// The BPF hash map a kernel-grouped query accumulates its groups in
    /// (`plan::KernelGrouping`): key = the group key bytes, value = the accumulator slots.
    Groups,
    /// The read-only array map (one element: `Function::formats`) holding the format strings
    /// of a text-output program; `bpf_seq_printf` accepts only such memory as its format.
    Formats,
    /// The socket-local storage map (BPF_MAP_TYPE_SK_STORAGE) a `bpf_sk_storage_map` query
    /// names, when its rows come from socket iterators (`socket_storage.rs`): the runtime
    /// opens the map and patches its fd in.
    SkStorage,
    /// The BPF hash map (key: a socket cookie, u64; value: the socket's key in the sockmap) that
    /// user space fills from a sockmap a `sockmap` query names, when its rows come from socket
    /// iterators (`socket_storage.rs`).
    SocketKeys,
}

/// The one argument of a `SeqPrintf` (the helper takes an array of u64; bpfq passes one).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PrintfArg {
    /// A 64-bit value (`%lld`, `%llu`, `%llx`).
    Value(Value),
    /// The address of row byte `offset` (`%s`, `%pI4`, `%pI6`).
    RowAddress(u32),
}

/// A BPF helper called by the program; the backend knows each one's arguments.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Helper {
    /// `bpf_seq_write(seq, row, len)`: emit the first `len` bytes of the row buffer.
    SeqWrite,
}

/// One instruction. Those with a result define exactly one value.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Inst {
    /// The iterator context pointer (R1 at entry). Must be the first instruction.
    Context,
    /// A 64-bit constant.
    Const(u64),
    /// Load `width` bytes at `base + offset`; sign-extend when `signed`.
    Load {
        base: Value,
        offset: i32,
        width: Width,
        signed: bool,
    },
    /// `lhs op rhs`.
    Binary { op: BinOp, lhs: Value, rhs: Operand },
    /// `op arg`.
    Unary { op: UnOp, arg: Value },
    /// Zero these 8-byte words of the row buffer (by offset): every word that the row's
    /// unconditional stores do not fully overwrite, so no uninitialised stack is ever written out.
    ZeroRow { words: Vec<u32> },
    /// Store the low `width` bytes of `value` at `offset` in the row buffer.
    StoreRow {
        offset: u32,
        width: Width,
        value: Operand,
    },
    /// Copy `len` bytes from `base + src_offset` into the row at `offset`, in loads that each
    /// stay inside the source member (the verifier refuses loads that straddle members).
    CopyToRow {
        offset: u32,
        base: Value,
        src_offset: i32,
        len: u32,
    },
    /// `width` bytes at `base + offset` read with `bpf_probe_read_kernel` (a helper call), for
    /// memory the verifier's BTF walk refuses to load directly (a union member shadowed by a
    /// pointer, or anything behind a pointer that was itself probe-read).
    ProbeLoad {
        base: Value,
        offset: i32,
        width: Width,
        signed: bool,
    },
    /// `ptr` seen as a pointer to BTF type `btf_type`: with `kfunc` (the BTF id of
    /// `bpf_rdonly_cast`), a call of it, after which the verifier sees a read-only pointer to
    /// that type; without, a copy of the address, which the verifier still sees as what `ptr`
    /// was (a number, or a pointer to the original type), so memory behind it is read with
    /// `ProbeLoad`/`ProbeCopyToRow` only.
    CastPointer {
        ptr: Value,
        btf_type: u32,
        kfunc: Option<u32>,
    },
    /// The C string at `base` read with `bpf_probe_read_kernel_str` into the row at `offset`,
    /// at most `len` bytes with its NUL.
    ProbeStrToRow { offset: u32, base: Value, len: u32 },
    /// `bpf_d_path(base + src_offset, row + offset, len)`: the path of the `struct path` at
    /// `base + src_offset` into the row; the result is the helper's return (the length with
    /// the NUL, or a negative errno).
    DPathToRow {
        offset: u32,
        base: Value,
        src_offset: i32,
        len: u32,
    },
    /// Store into 8-byte stack slot `slot`: how a value crosses a join (there are no phis).
    SlotStore { slot: u32, value: Operand },
    /// Load 8-byte stack slot `slot`, stored on every path that reaches here.
    SlotLoad { slot: u32 },
    /// `len` bytes at `base + src_offset` probe-read straight into the row at `offset`.
    ProbeCopyToRow {
        offset: u32,
        base: Value,
        src_offset: i32,
        len: u32,
    },
    /// Call a helper; `seq` is the `struct seq_file *` from the iterator meta, `len` the number
    /// of row-buffer bytes to write.
    Call {
        helper: Helper,
        seq: Value,
        len: u32,
    },
    /// `bpf_ringbuf_output(map, row, len, 0)`: copy the first `len` bytes of the row buffer into
    /// the ring buffer `map` as one record. The result is 0, or a negative errno when the ring
    /// is full.
    RingOutput { map: MapRef, len: u32 },
    /// Load `width` bytes at `offset` of the row buffer (a value the program stored there
    /// earlier); sign-extend when `signed`.
    LoadRow {
        offset: u32,
        width: Width,
        signed: bool,
    },
    /// `bpf_map_lookup_elem(map, row + key)`: a pointer to the element's value, or 0.
    MapLookup { map: MapRef, key: u32 },
    /// `bpf_map_update_elem(map, row + key, row + value, BPF_NOEXIST)`: 0, or a negative errno
    /// (E2BIG when the map is full).
    MapInsert { map: MapRef, key: u32, value: u32 },
    /// Store the low `width` bytes of `value` at `base + offset` (`base`: a map value pointer
    /// that `MapLookup` returned and a branch checked for NULL).
    Store {
        base: Value,
        offset: i32,
        width: Width,
        value: Operand,
    },
    /// `bpf_sk_storage_get(map, sk, NULL, 0)`: a pointer to `sk`'s value in the sk_storage
    /// `map`, or 0 when the socket holds none (`sk`: a `struct sock` BTF pointer, non-NULL).
    SkStorageGet { map: MapRef, sk: Value },
    /// `bpf_skc_to_tcp_sock(sk)`: `sk` (a `struct sock_common` BTF pointer) as a full TCP
    /// socket (`struct tcp_sock`, which starts with its `struct sock`), or 0 when it is not one
    /// (request and time-wait sockets).
    SkcToTcpSock { sk: Value },
    /// `bpf_seq_printf(seq, formats + format, len, &arg, 8 or 0)`: the NUL-terminated format
    /// at byte `format` of `Function::formats` (`len` bytes with its NUL), with at most one
    /// argument.
    SeqPrintf {
        seq: Value,
        format: u32,
        len: u32,
        arg: Option<PrintfArg>,
    },
}

impl Inst {
    /// Values this instruction reads.
    pub fn uses(&self) -> Vec<Value> {
        let operand = |o: &Operand| match o {
            Operand::Value(v) => Some(*v),
            Operand::Imm(_) => None,
        };
        match self {
            Inst::Context
            | Inst::Const(_)
            | Inst::ZeroRow { .. }
            | Inst::SlotLoad { .. }
            | Inst::RingOutput { .. }
            | Inst::LoadRow { .. }
            | Inst::MapLookup { .. }
            | Inst::MapInsert { .. } => vec![],
            Inst::Store { base, value, .. } => {
                std::iter::once(*base).chain(operand(value)).collect()
            }
            Inst::SlotStore { value, .. } => operand(value).into_iter().collect(),
            Inst::Load { base, .. }
            | Inst::CopyToRow { base, .. }
            | Inst::ProbeLoad { base, .. }
            | Inst::ProbeCopyToRow { base, .. } => vec![*base],
            Inst::CastPointer { ptr, .. } => vec![*ptr],
            Inst::SkStorageGet { sk, .. } | Inst::SkcToTcpSock { sk } => vec![*sk],
            Inst::ProbeStrToRow { base, .. } | Inst::DPathToRow { base, .. } => vec![*base],
            Inst::Binary { lhs, rhs, .. } => std::iter::once(*lhs).chain(operand(rhs)).collect(),
            Inst::Unary { arg, .. } => vec![*arg],
            Inst::StoreRow { value, .. } => operand(value).into_iter().collect(),
            Inst::Call { seq, .. } => vec![*seq],
            Inst::SeqPrintf { seq, arg, .. } => match arg {
                Some(PrintfArg::Value(v)) => vec![*seq, *v],
                _ => vec![*seq],
            },
        }
    }

    /// Whether the instruction clobbers the caller-saved registers (R0-R5).
    pub fn is_call(&self) -> bool {
        matches!(
            self,
            Inst::Call { .. }
                | Inst::RingOutput { .. }
                | Inst::MapLookup { .. }
                | Inst::MapInsert { .. }
                | Inst::SkStorageGet { .. }
                | Inst::SkcToTcpSock { .. }
                | Inst::SeqPrintf { .. }
                | Inst::ProbeLoad { .. }
                | Inst::ProbeCopyToRow { .. }
                | Inst::CastPointer { kfunc: Some(_), .. }
                | Inst::ProbeStrToRow { .. }
                | Inst::DPathToRow { .. }
        )
    }
}

/// An instruction with its result and the query clause it implements (shown by `explain`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InstData {
    pub result: Option<Value>,
    pub inst: Inst,
    pub note: Option<String>,
}

/// How a block ends.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Terminator {
    Jump(Block),
    Branch {
        cmp: Cmp,
        lhs: Value,
        rhs: Operand,
        then_to: Block,
        else_to: Block,
    },
    Return(i32),
}

impl Terminator {
    pub fn uses(&self) -> Vec<Value> {
        match self {
            Terminator::Branch {
                lhs,
                rhs: Operand::Value(r),
                ..
            } => vec![*lhs, *r],
            Terminator::Branch { lhs, .. } => vec![*lhs],
            Terminator::Jump(_) | Terminator::Return(_) => vec![],
        }
    }

    pub fn successors(&self) -> Vec<Block> {
        match self {
            Terminator::Jump(b) => vec![*b],
            Terminator::Branch {
                then_to, else_to, ..
            } => vec![*then_to, *else_to],
            Terminator::Return(_) => vec![],
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BlockData {
    pub insts: Vec<InstData>,
    pub terminator: Terminator,
    /// The query clause the terminator implements, when it starts one (shown by `explain`).
    pub terminator_note: Option<String>,
}

/// The whole iterator program.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Function {
    pub blocks: PrimaryMap<Block, BlockData>,
    /// Blocks in emission order; every jump goes to a later block in this order.
    pub layout: Vec<Block>,
    pub value_count: u32,
    /// 8-byte stack slots used by `SlotStore`/`SlotLoad`.
    pub slots: u32,
    /// Bytes of the row buffer on the stack (a multiple of 8).
    pub row_size: u32,
    /// The format strings of `SeqPrintf`s, each NUL-terminated, one after the other (the value
    /// of `MapRef::Formats`); empty for a binary-row program.
    pub formats: Vec<u8>,
}

fn check_defined(defined: &[bool], used: Value, block: Block) -> Result<(), VerifyError> {
    match defined.get(used.as_u32() as usize) {
        Some(true) => Ok(()),
        _ => Err(VerifyError(format!(
            "{block}: {used} used before definition"
        ))),
    }
}

/// A malformed function: always a bug in the lowering, reported instead of miscompiled.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifyError(pub String);

impl Function {
    /// No blocks at all: the IR of a plan that runs no program (a user-space map walk).
    pub fn empty() -> Function {
        Function {
            blocks: PrimaryMap::new(),
            layout: Vec::new(),
            value_count: 0,
            slots: 0,
            row_size: 0,
            formats: Vec::new(),
        }
    }

    /// Whether some instruction uses the 8-byte scratch slot below the row (a probe-read's
    /// destination, or the argument word of a `SeqPrintf`).
    pub fn uses_probe_scratch(&self) -> bool {
        self.blocks
            .values()
            .flat_map(|b| &b.insts)
            .any(|i| matches!(i.inst, Inst::ProbeLoad { .. } | Inst::SeqPrintf { .. }))
    }

    /// Checks the invariants the backend relies on: forward-only jumps, every value defined once
    /// before use, `Context` first, row accesses inside the row.
    pub fn verify(&self) -> Result<(), VerifyError> {
        let mut defined = vec![false; self.value_count as usize];
        let mut first = true;
        let mut position = SecondaryMap::<Block, Option<usize>>::new();
        for (i, &block) in self.layout.iter().enumerate() {
            if position[block].is_some() {
                return Err(VerifyError(format!("{block} laid out twice")));
            }
            position[block] = Some(i);
        }
        for &block in &self.layout {
            let data = &self.blocks[block];
            for inst in &data.insts {
                if matches!(inst.inst, Inst::Context) != first {
                    return Err(VerifyError(format!(
                        "{block}: Context must be the first instruction"
                    )));
                }
                first = false;
                for used in inst.inst.uses() {
                    check_defined(&defined, used, block)?;
                }
                let row_end = match inst.inst {
                    Inst::StoreRow { offset, width, .. } => Some(offset + width.bytes()),
                    Inst::CopyToRow { offset, len, .. }
                    | Inst::ProbeCopyToRow { offset, len, .. }
                    | Inst::ProbeStrToRow { offset, len, .. }
                    | Inst::DPathToRow { offset, len, .. } => Some(offset + len),
                    Inst::Call { len, .. } | Inst::RingOutput { len, .. } => Some(len),
                    Inst::LoadRow { offset, width, .. } => Some(offset + width.bytes()),
                    Inst::SeqPrintf {
                        arg: Some(PrintfArg::RowAddress(offset)),
                        ..
                    } => Some(offset + 1),
                    _ => None,
                };
                let format_end = match inst.inst {
                    Inst::SeqPrintf { format, len, .. } => Some(format + len),
                    _ => None,
                };
                if format_end.is_some_and(|end| end as usize > self.formats.len()) {
                    return Err(VerifyError(format!(
                        "{block}: format beyond the format table"
                    )));
                }
                if row_end.is_some_and(|end| end > self.row_size) {
                    return Err(VerifyError(format!(
                        "{block}: row access beyond {} bytes",
                        self.row_size
                    )));
                }
                if let Some(result) = inst.result {
                    let slot = defined
                        .get_mut(result.as_u32() as usize)
                        .ok_or_else(|| VerifyError(format!("{result} out of range")))?;
                    if *slot {
                        return Err(VerifyError(format!("{result} defined twice")));
                    }
                    *slot = true;
                }
            }
            for used in data.terminator.uses() {
                check_defined(&defined, used, block)?;
            }
            for succ in data.terminator.successors() {
                let forward = self.blocks.is_valid(succ) && position[succ] > position[block];
                if !forward {
                    return Err(VerifyError(format!(
                        "{block}: jump to {succ} is not forward"
                    )));
                }
            }
        }
        Ok(())
    }
}
