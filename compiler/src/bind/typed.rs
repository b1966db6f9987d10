//! Stage `bind` output: the typed query. Every name is resolved to a BTF location, every
//! expression has a type; nothing here refers to source names except column titles and spans.

use crate::diagnostic::Span;
use bpfq_kernel::TypeId;

/// A value type as the compiler sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Integer of 1, 2, 4 or 8 bytes.
    Int {
        bytes: u8,
        signed: bool,
    },
    /// An integer literal: it takes the type of what it meets.
    Literal,
    Bool,
    /// `char[len]`, compared as text.
    Chars {
        len: u32,
    },
    /// A pointer to a BTF type (already stripped of typedefs and qualifiers).
    Ptr {
        pointee: TypeId,
    },
    /// A struct or union in memory; usable only as a path step.
    Struct {
        id: TypeId,
    },
    /// A non-char array in memory; usable only with `[index]`.
    Array {
        elem: TypeId,
        len: u32,
    },
    /// A BTF enum held as an integer.
    Enum {
        id: TypeId,
        bytes: u8,
        signed: bool,
    },
    /// A string literal.
    Str,
    /// An IPv4 address held as 4 bytes in network order (a stdlib `ipv4` column).
    Ipv4,
    /// A socket's address in its own family (`inet_addr`): IPv4 or IPv6, shown as people
    /// read them and compared with address and prefix literals.
    InetAddr,
    /// An address family number (`AF_INET`...) of `bytes` bytes, shown and compared by name
    /// (`inet6`; a stdlib `address_family` column).
    AddressFamily {
        bytes: u8,
    },
    /// The VM_READ (1), VM_WRITE (2), VM_EXEC (4) and VM_MAYSHARE (0x80) bits of a VMA's
    /// flags (a stdlib `vma_perms` column), shown and compared as /proc/PID/maps' `rwxp` text.
    VmaPerms,
    /// An integer shown as the text a tool prints for it (a state letter, a terminal name) and
    /// compared with such a text (a stdlib column of an `int_view` type).
    Shown(crate::int_view::IntView),
    /// A kernfs node's path (`kernfs_path`): a count byte, 7 bytes of padding, then `levels`
    /// name slots of `slot` bytes, the node's own name first; user space joins them in reverse.
    KernfsPath {
        levels: u32,
        slot: u32,
        shown: crate::layout::PathShown,
    },
    /// A file's path built by a dentry walk (`d_path` where `bpf_d_path` cannot be used): the
    /// `KernfsPath` layout (count byte, then `levels` name slots of `slot` bytes, the file's
    /// own name first), with byte 1 set when the walk stopped before the root and byte 2 when
    /// the file is deleted.
    DentryPath {
        levels: u32,
        slot: u32,
    },
    /// `len` bytes of memory with no BTF type (a map key or value), shown as hex.
    Bytes {
        len: u32,
    },
    /// Nanoseconds in a u64 (a stdlib `timestamp`, `boot_timestamp` or `duration` column, or
    /// `now()`): an integer to the program, a time to people.
    Time(crate::layout::TimeKind),
}

impl Ty {
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Ty::Int { .. } | Ty::Literal | Ty::Enum { .. } | Ty::AddressFamily { .. } | Ty::Time(_)
        )
    }

    pub fn is_signed(&self) -> bool {
        matches!(
            self,
            Ty::Int { signed: true, .. } | Ty::Enum { signed: true, .. }
        )
    }

    /// The short name with its article: "an s32", "a pointer", "an integer".
    pub fn a(&self) -> String {
        let name = self.describe();
        let mut chars = name.chars();
        let vowel_sound = match (chars.next(), chars.next()) {
            (Some('a' | 'e' | 'i' | 'o'), _) => true,
            (Some('s'), Some(c)) => c.is_ascii_digit(),
            _ => false,
        };
        format!("{} {name}", if vowel_sound { "an" } else { "a" })
    }

    /// A short human name for diagnostics.
    pub fn describe(&self) -> String {
        match self {
            Ty::Int { bytes, signed } => {
                format!("{}{}", if *signed { "s" } else { "u" }, bytes * 8)
            }
            Ty::Literal => "integer".into(),
            Ty::Bool => "boolean".into(),
            Ty::Chars { len } => format!("char[{len}]"),
            Ty::Ptr { .. } => "pointer".into(),
            Ty::Struct { .. } => "struct".into(),
            Ty::Array { len, .. } => format!("array[{len}]"),
            Ty::Enum { .. } => "enum".into(),
            Ty::Str => "string".into(),
            Ty::Ipv4 => "ipv4".into(),
            Ty::InetAddr => "inet_addr".into(),
            Ty::AddressFamily { .. } => "address_family".into(),
            Ty::VmaPerms => "vma_perms".into(),
            Ty::Shown(view) => view.name().into(),
            Ty::KernfsPath { .. } => "kernfs_path".into(),
            Ty::DentryPath { .. } => "dentry_path".into(),
            Ty::Bytes { len } => format!("bytes[{len}]"),
            Ty::Time(kind) => kind.name().into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl ArithOp {
    /// The arithmetic a binary operator of the syntax performs; `None` for comparisons and logic.
    pub fn of(op: crate::syntax::ast::BinaryOp) -> Option<ArithOp> {
        use crate::syntax::ast::BinaryOp;
        Some(match op {
            BinaryOp::Add => ArithOp::Add,
            BinaryOp::Sub => ArithOp::Sub,
            BinaryOp::Mul => ArithOp::Mul,
            BinaryOp::Div => ArithOp::Div,
            BinaryOp::Rem => ArithOp::Rem,
            BinaryOp::BitAnd => ArithOp::BitAnd,
            BinaryOp::BitOr => ArithOp::BitOr,
            BinaryOp::BitXor => ArithOp::BitXor,
            BinaryOp::Shl => ArithOp::Shl,
            BinaryOp::Shr => ArithOp::Shr,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The comparison a binary operator of the syntax performs; `None` for arithmetic and logic.
    pub fn of(op: crate::syntax::ast::BinaryOp) -> Option<CmpOp> {
        use crate::syntax::ast::BinaryOp;
        Some(match op {
            BinaryOp::Eq => CmpOp::Eq,
            BinaryOp::Ne => CmpOp::Ne,
            BinaryOp::Lt => CmpOp::Lt,
            BinaryOp::Le => CmpOp::Le,
            BinaryOp::Gt => CmpOp::Gt,
            BinaryOp::Ge => CmpOp::Ge,
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Rem
            | BinaryOp::BitAnd
            | BinaryOp::BitOr
            | BinaryOp::BitXor
            | BinaryOp::Shl
            | BinaryOp::Shr
            | BinaryOp::Concat
            | BinaryOp::And
            | BinaryOp::Or => return None,
        })
    }

    /// The operator that holds with the operands exchanged (`a < b` is `b > a`).
    pub fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    /// Whether the operator holds for operands ordered as `ordering`.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        match self {
            CmpOp::Eq => ordering.is_eq(),
            CmpOp::Ne => ordering.is_ne(),
            CmpOp::Lt => ordering.is_lt(),
            CmpOp::Le => ordering.is_le(),
            CmpOp::Gt => ordering.is_gt(),
            CmpOp::Ge => ordering.is_ge(),
        }
    }
}

/// A comparison as the kernel program and every evaluator read it: a literal on the left moves
/// to the right (the operator swapped).
pub fn literal_right<'e>(
    op: CmpOp,
    lhs: &'e TExpr,
    rhs: &'e TExpr,
) -> (CmpOp, &'e TExpr, &'e TExpr) {
    if matches!(lhs.kind, TKind::Int(_)) {
        (op.swapped(), rhs, lhs)
    } else {
        (op, lhs, rhs)
    }
}

/// The (bytes, signed) of an integer type name (`u8` ... `s64`, `i8` ... `i64`).
pub fn int_type(name: &str) -> Option<(u8, bool)> {
    Some(match name {
        "u8" => (1, false),
        "u16" => (2, false),
        "u32" => (4, false),
        "u64" => (8, false),
        "s8" | "i8" => (1, true),
        "s16" | "i16" => (2, true),
        "s32" | "i32" => (4, true),
        "s64" | "i64" => (8, true),
        _ => return None,
    })
}

/// Whether arithmetic or a comparison of operands typed `a` and `b` is signed (signed division,
/// `s>>`, signed jumps): when either operand is signed, and when both are literals, which are
/// 64-bit signed integers among themselves (`-1 < 0`, `-16 / 3` is -5). A literal meeting a
/// typed operand takes that operand's signedness (`u64_field >> 4` stays a logical shift).
pub fn signed_operation(a: &Ty, b: &Ty) -> bool {
    a.is_signed() || b.is_signed() || (*a == Ty::Literal && *b == Ty::Literal)
}

/// The constant `rhs` as compared with a value of type `other`, or None when `rhs` is not a
/// constant. A negative literal compared with a narrower unsigned value is taken at that width,
/// as C does (`uid == -1` means 0xffffffff for a u32 uid). Other constants are compared as they
/// are: the value is zero-extended, so a literal beyond its range compares correctly in 64
/// bits, and a typed constant (`cast(-1 as s64)`) is the value a register holds at run time.
///
/// The binder applies it to both operands of every comparison it builds (`narrow_literal`), so
/// the program and every evaluator compare the values as they are.
pub fn narrowed_literal(rhs: &TExpr, other: &Ty) -> Option<u64> {
    let TKind::Int(c) = rhs.kind else {
        return None;
    };
    Some(match other {
        Ty::Int {
            bytes,
            signed: false,
        } if *bytes < 8 && rhs.ty == Ty::Literal => {
            let bits = u32::from(*bytes) * 8;
            let value = c as i64;
            if value < 0 && value >= -(1i64 << (bits - 1)) {
                c & ((1u64 << bits) - 1)
            } else {
                c
            }
        }
        _ => c,
    })
}

/// `constant` with its value narrowed for a comparison with a value of type `other`
/// (`narrowed_literal`); anything but a constant unchanged.
pub fn narrow_literal(constant: TExpr, other: &Ty) -> TExpr {
    match narrowed_literal(&constant, other) {
        Some(c) => TExpr {
            kind: TKind::Int(c),
            ..constant
        },
        None => constant,
    }
}

/// Why a `d_path` is a dentry walk rather than a `bpf_d_path` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DPathWalkReason {
    /// The kernel refuses `bpf_d_path` in iterator programs (`!d_path_in_iter`, before 5.12).
    NotInIterators,
    /// The `struct path` is reached through a pointer loaded from memory (`vma->vm_file`),
    /// which this kernel's verifier does not trust (`!vma_file_path_trusted`).
    LoadedPointer,
}

/// The BTF offsets a dentry walk reads (bytes; `mnt_*` of `struct mount` relative to its
/// start, `mount_mnt` being where its `struct vfsmount mnt` sits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DentryWalk {
    /// `struct path`: `mnt` and `dentry`.
    pub path_mnt: u32,
    pub path_dentry: u32,
    /// `struct dentry`: `d_parent`, `d_name.name`, `d_hash.pprev` (NULL: unhashed), `d_sb`,
    /// `d_inode`.
    pub d_parent: u32,
    pub d_name: u32,
    pub d_hash_pprev: u32,
    pub d_sb: u32,
    pub d_inode: u32,
    /// `struct inode`: `i_ino` (the number in `pipe:[N]`, `socket:[N]`).
    pub i_ino: u32,
    /// `struct super_block`: `s_d_op` (NULL: a pseudo file's name is `simple_dname`'s) and
    /// `s_type`, whose `name` (`struct file_system_type`) tells pipefs, sockfs... apart.
    pub s_d_op: u32,
    pub s_type: u32,
    pub fs_name: u32,
    /// `struct vfsmount`: `mnt_root`.
    pub mnt_root: u32,
    /// `struct mount`: `mnt`, `mnt_parent`, `mnt_mountpoint`.
    pub mount_mnt: u32,
    pub mnt_parent: u32,
    pub mnt_mountpoint: u32,
    pub why: DPathWalkReason,
}

/// A typed expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TExpr {
    pub kind: TKind,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TKind {
    /// A pointer member of the iterator context (`ctx->task`); NULL-checked once at entry.
    CtxField {
        name: String,
        offset: u32,
    },
    /// A scalar member of the iterator context (`ctx->fd` of task_file), loaded from the context.
    CtxValue {
        name: String,
        offset: u32,
        bytes: u8,
        signed: bool,
    },
    /// Memory at `ptr + offset` of a struct, union, array or char array type (not loaded).
    Place {
        ptr: Box<TExpr>,
        offset: u32,
    },
    /// A scalar loaded from `ptr + offset`; `bitfield` is (bit offset from `offset`, bit count).
    Load {
        ptr: Box<TExpr>,
        offset: u32,
        bytes: u8,
        signed: bool,
        bitfield: Option<(u32, u32)>,
    },
    Int(u64),
    Str(Vec<u8>),
    Neg(Box<TExpr>),
    BitNot(Box<TExpr>),
    Arith {
        op: ArithOp,
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
        signed: bool,
    },
    Compare {
        op: CmpOp,
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
        signed: bool,
    },
    /// A char array compared with a string literal, C-string semantics.
    TextEq {
        text: Box<TExpr>,
        literal: Vec<u8>,
        negated: bool,
    },
    /// A char array matched against a glob: `%` any run of bytes, `_` any one byte.
    Like {
        text: Box<TExpr>,
        pattern: Vec<u8>,
        negated: bool,
    },
    /// A pointer seen as a pointer to another struct (`cast(p as struct T)`).
    StructCast {
        value: Box<TExpr>,
        target: TypeId,
        /// BTF id of the `bpf_rdonly_cast` kfunc; None when the kernel has none to use: the
        /// verifier then does not know the cast pointer as a `T`, and memory behind it is read
        /// with `bpf_probe_read_kernel`.
        kfunc: Option<TypeId>,
    },
    /// The C string a `char *` points to, read with `bpf_probe_read_kernel_str`, at most `max`
    /// bytes including its NUL (a stdlib `string` column).
    CString {
        ptr: Box<TExpr>,
        max: u32,
    },
    /// The path of `path` (a `struct path` place) as `bpf_d_path` writes it, at most `max` bytes
    /// with its NUL; NULL when the helper fails (a longer path: -ENAMETOOLONG).
    DPath {
        path: Box<TExpr>,
        max: u32,
    },
    /// The path of the kernfs node `node` from its root (`kernfs_path`): the `name` (a
    /// `const char *` at `name_offset`) of each node up the parent pointers (at
    /// `parent_offset`); NULL when the walk does not reach the root or a name fills its slot.
    KernfsPath {
        node: Box<TExpr>,
        parent_offset: u32,
        name_offset: u32,
    },
    /// The path of `path` (a `struct path` place) built by walking its dentries up to the root
    /// and crossing mounts as the kernel's `d_path()` does, where `bpf_d_path` is refused.
    DentryPath {
        path: Box<TExpr>,
        walk: DentryWalk,
    },
    /// A socket's address in its own family (`inet_addr`): `family` (a u16), and the IPv4
    /// (`v4`, a network-order u32) or IPv6 (`v6`, a `struct in6_addr` place) field, of which
    /// only the one of the family is kept, so equal addresses are equal bytes.
    InetAddr {
        family: Box<TExpr>,
        v4: Box<TExpr>,
        v6: Box<TExpr>,
    },
    /// A condition as an integer: 1 when it holds, else 0.
    BoolToInt {
        cond: Box<TExpr>,
    },
    /// A scalar built-in (`if(cond, a, b)`) of its arguments, each an integer or, typed `Bool`,
    /// a condition.
    Call {
        func: crate::scalar_fn::ScalarFn,
        args: Vec<TExpr>,
    },
    /// A built-in computed in user space (`upper(comm)`, `now()`): the program writes its
    /// arguments, the plan's user part computes it (text is typed `Str`).
    UserCall {
        func: crate::scalar_fn::UserFn,
        args: Vec<TExpr>,
    },
    /// The low `bytes` bytes of an integer in reverse order (a network-order `port`).
    ByteSwap {
        value: Box<TExpr>,
        bytes: u8,
    },
    /// An integer truncated to `bytes` and sign- or zero-extended back to 64 bits.
    Cast {
        value: Box<TExpr>,
        bytes: u8,
        signed: bool,
    },
    And(Box<TExpr>, Box<TExpr>),
    Or(Box<TExpr>, Box<TExpr>),
    Not(Box<TExpr>),
}

impl TExpr {
    /// The direct sub-expressions, in the order the program computes them. The one exhaustive
    /// list of what each node kind contains: a new kind is added here, and every walk over the
    /// tree (`walk`) then sees inside it.
    pub fn children(&self) -> Vec<&TExpr> {
        match &self.kind {
            TKind::CtxField { .. } | TKind::CtxValue { .. } | TKind::Int(_) | TKind::Str(_) => {
                Vec::new()
            }
            TKind::Place { ptr: e, .. }
            | TKind::Load { ptr: e, .. }
            | TKind::CString { ptr: e, .. }
            | TKind::Neg(e)
            | TKind::BitNot(e)
            | TKind::Not(e)
            | TKind::TextEq { text: e, .. }
            | TKind::Like { text: e, .. }
            | TKind::StructCast { value: e, .. }
            | TKind::ByteSwap { value: e, .. }
            | TKind::Cast { value: e, .. }
            | TKind::DPath { path: e, .. }
            | TKind::DentryPath { path: e, .. }
            | TKind::KernfsPath { node: e, .. }
            | TKind::BoolToInt { cond: e } => vec![e],
            TKind::Arith { lhs, rhs, .. } | TKind::Compare { lhs, rhs, .. } => vec![lhs, rhs],
            TKind::And(l, r) | TKind::Or(l, r) => vec![l, r],
            TKind::Call { args, .. } | TKind::UserCall { args, .. } => args.iter().collect(),
            TKind::InetAddr { family, v4, v6 } => vec![family, v4, v6],
        }
    }

    /// Whether user space computes part of this expression (a `UserCall` inside it).
    pub fn in_user_space(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| found |= matches!(e.kind, TKind::UserCall { .. }));
        found
    }

    /// Calls `f` on this expression and on every expression inside it, parents first.
    pub fn walk<'e>(&'e self, f: &mut dyn FnMut(&'e TExpr)) {
        f(self);
        for child in self.children() {
            child.walk(f);
        }
    }

    /// Calls `f` with the name and offset of each context pointer field this expression reads.
    pub fn visit_ctx_fields<'e>(&'e self, f: &mut dyn FnMut(&'e str, u32)) {
        self.walk(&mut |e| {
            if let TKind::CtxField { name, offset } = &e.kind {
                f(name, *offset);
            }
        });
    }
}

/// The iterator the query runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundTarget {
    pub name: String,
    pub ctx_struct: TypeId,
    pub ctx_struct_name: String,
    /// BTF id of FUNC `bpf_iter_<name>`: the program's attach point.
    pub attach_func: TypeId,
    /// Byte offsets of `meta` in the context and of `seq` in `struct bpf_iter_meta`.
    pub meta_offset: u32,
    pub seq_offset: u32,
    /// Byte offset of the u64 `seq_num` in `struct bpf_iter_meta` (0 for the first object).
    pub seq_num_offset: u32,
    /// Byte offset in the context of the object pointer that is NULL on the final call.
    pub object_offset: u32,
    /// The name of that context field (`task`; `key` for bpf_map_elem, whose `map` is never NULL).
    pub object_field: String,
    /// How rows reach user space: the seq buffer, or a ring buffer map for targets whose
    /// seq output loses objects (catalogue fact).
    pub transport: bpfq_kernel::catalogue::RowTransport,
}

/// One output column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputColumn {
    pub name: String,
    pub expr: TExpr,
    /// Added only to sort by; not printed.
    pub hidden: bool,
}

/// A sort key: an index into the result columns (the kernel columns, or the grouping's
/// columns in a grouped query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    pub column: usize,
    pub descending: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedQuery {
    pub target: BoundTarget,
    pub columns: Vec<OutputColumn>,
    pub filter: Option<TExpr>,
    pub order_by: Vec<SortKey>,
    pub limit: Option<u64>,
    /// Iterator link parameters: given in `from`, or pushed down from `where`.
    pub iter_params: Option<super::IterParams>,
    /// Grouping and aggregates computed over the kernel's rows (`columns` are then the group
    /// keys and aggregate arguments); `order_by` and `limit` then apply to the groups.
    pub grouping: Option<super::Grouping>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: TKind, ty: Ty) -> TExpr {
        TExpr {
            kind,
            ty,
            span: Span::default(),
        }
    }

    /// `if(task.pid > 1, task.tgid, 0)`: a walk sees the context field in every argument.
    #[test]
    fn walks_reach_the_arguments_of_a_call() {
        let int = Ty::Int {
            bytes: 4,
            signed: true,
        };
        let task = || {
            Box::new(node(
                TKind::CtxField {
                    name: "task".into(),
                    offset: 8,
                },
                Ty::Ptr { pointee: TypeId(1) },
            ))
        };
        let load = |offset| {
            node(
                TKind::Load {
                    ptr: task(),
                    offset,
                    bytes: 4,
                    signed: true,
                    bitfield: None,
                },
                int.clone(),
            )
        };
        let cond = node(
            TKind::Compare {
                op: CmpOp::Gt,
                lhs: Box::new(load(100)),
                rhs: Box::new(node(TKind::Int(1), Ty::Literal)),
                signed: true,
            },
            Ty::Bool,
        );
        let call = node(
            TKind::Call {
                func: crate::scalar_fn::ScalarFn::If,
                args: vec![cond, load(104), node(TKind::Int(0), Ty::Literal)],
            },
            Ty::Int {
                bytes: 8,
                signed: true,
            },
        );
        let mut loads = Vec::new();
        call.walk(&mut |e| {
            if let TKind::Load { offset, .. } = e.kind {
                loads.push(offset);
            }
        });
        assert_eq!(loads, [100, 104]);
        assert_eq!(call.children().len(), 3);
        assert_eq!(call.to_string().split('(').next(), Some("if"));
    }
}
