//! Syntax tree (stage: parse output): queries, expressions and module items exactly as
//! written, every node with the span of its source text. No names are resolved here.

use crate::diagnostic::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub from: Source,
    pub joins: Vec<Join>,
    pub select: Option<Select>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub order_by: Vec<OrderKey>,
    pub limit: Option<Limit>,
    pub span: Span,
}

/// `target(param = value, ...) as alias`
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub target: Ident,
    pub params: Vec<(Ident, Expr)>,
    pub alias: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub source: Source,
    pub on: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    Star(Span),
    Items(Vec<SelectItem>),
    /// `select *, expr, ...`: the default columns, then more.
    StarAnd(Span, Vec<SelectItem>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    pub expr: Expr,
    pub alias: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    pub expr: Expr,
    pub descending: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub count: u64,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(u64),
    Str(String),
    Bool(bool),
    Null,
    /// `$name` (the name without `$`)
    Param(String),
    /// `task.real_parent.tgid`, `rt.fib6_nh[0].fib_nh_dev.name`: starts with a Field.
    Path(Vec<PathSegment>),
    /// Field accesses and subscripts applied to something that is not a name:
    /// `(sk_common as tcp_sock).snd_cwnd`, `cast(x as tcp_sock).srtt_us`, `f(x)[0]`.
    Member {
        base: Box<Expr>,
        path: Vec<PathSegment>,
    },
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
    },
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `cast(e as t)` and postfix `e as t`
    Cast {
        expr: Box<Expr>,
        ty: TypeName,
    },
    Call {
        func: Ident,
        args: Vec<Expr>,
        distinct: bool,
    },
    CountStar,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathSegment {
    Field(Ident),
    /// `[expr]`; the span covers the brackets.
    Index(Box<Expr>, Span),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
    BitNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    BitAnd,
    BitOr,
    /// `||`: text concatenation (`concat`).
    Concat,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    /// The operator as bpfq prints it.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::Concat => "||",
            BinaryOp::BitXor => "^",
            BinaryOp::Shl => "<<",
            BinaryOp::Shr => ">>",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "not",
            UnaryOp::BitNot => "~",
        }
    }
}

/// `u32`, `tcp_sock`, `struct tcp_sock`
#[derive(Debug, Clone, PartialEq)]
pub struct TypeName {
    pub name: String,
    pub is_struct: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Use(UseDecl),
    Param(ParamDecl),
    Query(NamedQuery),
    Column(ColumnDecl),
    Defaults(DefaultsDecl),
    Bare(Query),
}

/// `use net.tcp;`
#[derive(Debug, Clone, PartialEq)]
pub struct UseDecl {
    pub path: Vec<Ident>,
    pub span: Span,
}

/// `param port: u16 = 22;`
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDecl {
    pub doc: String,
    pub name: Ident,
    pub ty: Option<TypeName>,
    pub default: Option<Expr>,
    pub span: Span,
}

/// `query listeners = from tcp ...;`, or `metric tcp_sockets: gauge = from tcp ...;`
#[derive(Debug, Clone, PartialEq)]
pub struct NamedQuery {
    pub doc: String,
    pub name: Ident,
    pub query: Query,
    pub span: Span,
    /// Declared with `metric`: what `bpfq serve` publishes (`compiler/src/metric.rs`).
    pub metric: Option<MetricHead>,
}

/// The head of a `metric NAME[: KIND]` item: KIND as written (`gauge` or `counter`; checked
/// when the metric is made, so a typo is a coded diagnostic pointing at it).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricHead {
    pub kind: Option<Ident>,
}

/// `column task.state = task.__state ?? task.state;` — the binder uses the first
/// alternative whose fields exist in the kernel's BTF.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDecl {
    pub doc: String,
    pub target: Ident,
    pub name: Ident,
    pub ty: Option<TypeName>,
    pub alternatives: Vec<Expr>,
    pub span: Span,
}

/// `defaults task: pid, comm;` — the columns `select *` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultsDecl {
    pub doc: String,
    pub target: Ident,
    pub columns: Vec<Ident>,
    pub span: Span,
}
