//! Random well-typed integer and boolean expressions for differential tests of constant folding
//! (the kernel test `tests/kernel/fold.rs`, and the fuzz target `fold`, which includes this file):
//! literals, `cast(C as T)` of every width and signedness, `$param`s; every arithmetic,
//! bitwise, shift, comparison and logical operator, unary `-` and `~`, casts. Each expression
//! is written twice: as is (`folded`: the binder folds it) and with every constant a run-time
//! value of the same type (`runtime`), which the program or an evaluator computes.

/// Where the generator's choices come from: a seeded generator or a fuzzer's bytes.
pub trait Choices {
    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize;
}

/// A deterministic xorshift generator.
pub struct Rng(pub u64);

impl Choices for Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Choices read from bytes, one byte each (modulo `n`); 0 once the bytes run out.
pub struct Bytes<'a>(pub &'a [u8]);

impl Choices for Bytes<'_> {
    fn below(&mut self, n: usize) -> usize {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                usize::from(b) % n
            }
            None => 0,
        }
    }
}

/// An expression's type as the binder types it.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Ty {
    Lit,
    Int(u8, bool),
    Bool,
}

/// (bytes, signed) of the integer types.
pub const TYPES: &[(u8, bool)] = &[
    (1, false),
    (2, false),
    (4, false),
    (8, false),
    (1, true),
    (2, true),
    (4, true),
    (8, true),
];

pub fn type_name((bytes, signed): (u8, bool)) -> String {
    format!("{}{}", if signed { 's' } else { 'u' }, bytes * 8)
}

/// Values at the edges of every width, and a few plain ones.
pub const VALUES: &[i128] = &[
    0,
    1,
    2,
    3,
    5,
    7,
    63,
    64,
    -1,
    -2,
    -3,
    -16,
    127,
    128,
    255,
    256,
    -128,
    -129,
    32767,
    32768,
    65535,
    65536,
    2147483647,
    2147483648,
    4294967295,
    4294967296,
    -2147483648,
    9223372036854775807,
    -9223372036854775808,
    18446744073709551615,
    6148914691236517205,
];

pub fn literal(v: i128) -> String {
    if v < 0 {
        format!("({v})")
    } else {
        v.to_string()
    }
}

#[derive(Clone, Debug)]
pub enum E {
    /// A literal, as written.
    Lit(String),
    /// A `$param` declared with an integer type: a constant of that type.
    Param(String, (u8, bool)),
    /// `cast(C as T)`.
    Typed(i128, (u8, bool)),
    Unary(&'static str, Box<E>, Ty),
    Arith(&'static str, Box<E>, Box<E>, Ty),
    Cast(Box<E>, (u8, bool)),
    Compare(&'static str, Box<E>, Box<E>),
    Logic(&'static str, Box<E>, Box<E>),
    Not(Box<E>),
}

impl E {
    pub fn ty(&self) -> Ty {
        match self {
            E::Lit(_) => Ty::Lit,
            E::Typed(_, t) | E::Cast(_, t) | E::Param(_, t) => Ty::Int(t.0, t.1),
            E::Unary(_, _, ty) | E::Arith(_, _, _, ty) => *ty,
            E::Compare(..) | E::Logic(..) | E::Not(_) => Ty::Bool,
        }
    }
}

fn signed(t: Ty) -> bool {
    matches!(t, Ty::Int(_, true))
}

/// A declared parameter: `param NAME: TYPE = VALUE;`.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub ty: (u8, bool),
    pub value: i128,
}

impl Param {
    pub fn declaration(&self) -> String {
        format!(
            "param {}: {} = {};\n",
            self.name,
            type_name(self.ty),
            self.value
        )
    }
}

/// The generator: `params` collects the parameters the expressions use.
pub struct Gen<C> {
    pub choices: C,
    pub params: Vec<Param>,
}

impl<C: Choices> Gen<C> {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.choices.below(items.len())]
    }

    fn leaf(&mut self) -> E {
        match self.choices.below(3) {
            0 => E::Lit(literal(*self.pick(VALUES))),
            1 => E::Typed(*self.pick(VALUES), *self.pick(TYPES)),
            _ => {
                let ty = *self.pick(TYPES);
                let bits = u32::from(ty.0) * 8;
                let (min, max) = if ty.1 {
                    (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
                } else {
                    (0, (1i128 << bits) - 1)
                };
                let value = (*self.pick(VALUES)).clamp(min, max);
                let name = format!("p{}", self.params.len());
                self.params.push(Param {
                    name: name.clone(),
                    ty,
                    value,
                });
                E::Param(format!("${name}"), ty)
            }
        }
    }

    /// An integer expression at most `depth` operators deep.
    pub fn int(&mut self, depth: u32) -> E {
        if depth == 0 || self.choices.below(4) == 0 {
            return self.leaf();
        }
        match self.choices.below(10) {
            0 => {
                let op = *self.pick(&["-", "~"]);
                let e = self.int(depth - 1);
                let ty = match e.ty() {
                    Ty::Lit => Ty::Lit,
                    t => Ty::Int(8, signed(t) || op == "-"),
                };
                E::Unary(op, Box::new(e), ty)
            }
            1 => {
                let inner = if self.choices.below(4) == 0 {
                    self.cond(depth - 1)
                } else {
                    self.int(depth - 1)
                };
                E::Cast(Box::new(inner), *self.pick(TYPES))
            }
            _ => {
                let op = *self.pick(&["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]);
                let l = self.int(depth - 1);
                let mut r = self.int(depth - 1);
                if op == "/" || op == "%" {
                    // Never the constant 0 (E0206); a run-time 0 is BPF's x / 0 = 0, x % 0 = x.
                    let ty = match r.ty() {
                        Ty::Lit => Ty::Lit,
                        t => Ty::Int(8, signed(t)),
                    };
                    r = E::Arith("|", Box::new(r), Box::new(E::Lit("1".into())), ty);
                }
                let ty = match (l.ty(), r.ty()) {
                    (Ty::Lit, Ty::Lit) => Ty::Lit,
                    (a, b) => Ty::Int(8, signed(a) || signed(b)),
                };
                E::Arith(op, Box::new(l), Box::new(r), ty)
            }
        }
    }

    /// A condition at most `depth` operators deep.
    pub fn cond(&mut self, depth: u32) -> E {
        match self.choices.below(if depth == 0 { 1 } else { 4 }) {
            0 | 1 => {
                let op = *self.pick(&["==", "!=", "<", "<=", ">", ">="]);
                let d = depth.saturating_sub(1);
                E::Compare(op, Box::new(self.int(d)), Box::new(self.int(d)))
            }
            2 => {
                let op = *self.pick(&["and", "or"]);
                E::Logic(
                    op,
                    Box::new(self.cond(depth - 1)),
                    Box::new(self.cond(depth - 1)),
                )
            }
            _ => E::Not(Box::new(self.cond(depth - 1))),
        }
    }
}

/// The expression as written: every constant a constant, so the binder folds what it can.
pub fn folded(e: &E) -> String {
    match e {
        E::Lit(text) | E::Param(text, _) => text.clone(),
        E::Typed(v, t) => format!("cast({} as {})", literal(*v), type_name(*t)),
        E::Unary(op, a, _) => format!("{op}({})", folded(a)),
        E::Arith(op, a, b, _) | E::Compare(op, a, b) => {
            format!("({} {op} {})", folded(a), folded(b))
        }
        E::Logic(op, a, b) => format!("({} {op} {})", folded(a), folded(b)),
        E::Not(a) => format!("(not {})", folded(a)),
        E::Cast(a, t) => format!("cast({} as {})", folded(a), type_name(*t)),
    }
}

/// The expression with its constants made run-time values of the same type, `zero` being a
/// run-time s64 zero (`pid - pid`): `cast(C as T)` becomes `cast(zero + C as T)`, a `$param`
/// of type T `cast(zero + $param as T)`; a literal
/// becomes the s64 `(zero + C)` where it meets only literals (literals are signed 64-bit among
/// themselves), and stays a literal where it meets a typed operand (where it takes that
/// operand's signedness). `casts` collects the casts written (group keys, for a grouped query).
pub fn runtime(e: &E, zero: &str, casts: &mut Vec<String>) -> String {
    written(e, zero, true, casts)
}

fn written(e: &E, zero: &str, literal_ok: bool, casts: &mut Vec<String>) -> String {
    let text = match e {
        E::Lit(text) if literal_ok => format!("({zero} + {text})"),
        E::Lit(text) => text.clone(),
        E::Typed(v, t) => format!("cast({zero} + {} as {})", literal(*v), type_name(*t)),
        E::Param(name, t) => format!("cast({zero} + {name} as {})", type_name(*t)),
        E::Unary(op, a, ty) => {
            if *ty == Ty::Lit && !literal_ok {
                return folded(e);
            }
            format!("{op}({})", written(a, zero, literal_ok, casts))
        }
        E::Arith(op, a, b, _) | E::Compare(op, a, b) => {
            let both = a.ty() == Ty::Lit && b.ty() == Ty::Lit;
            if both && !literal_ok && matches!(e, E::Arith(..)) {
                return folded(e);
            }
            format!(
                "({} {op} {})",
                written(a, zero, both, casts),
                written(b, zero, both, casts)
            )
        }
        E::Logic(op, a, b) => format!(
            "({} {op} {})",
            written(a, zero, true, casts),
            written(b, zero, true, casts)
        ),
        E::Not(a) => format!("(not {})", written(a, zero, true, casts)),
        E::Cast(a, t) => format!(
            "cast({} as {})",
            written(a, zero, true, casts),
            type_name(*t)
        ),
    };
    if matches!(e, E::Typed(..) | E::Param(..) | E::Cast(..)) && !casts.contains(&text) {
        casts.push(text.clone());
    }
    text
}
