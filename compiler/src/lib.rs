//! bpfq compiler: source text -> AST -> typed query -> plan -> IR -> BPF instructions + row layout.
//! No I/O happens here; every stage is a pure function of its input and the BTF it is given.
#![forbid(unsafe_code)]

pub mod layout;
pub mod ir;
pub mod codegen;
pub mod bpf;
pub mod diagnostic;
pub mod codes;
pub mod syntax;
pub mod stdlib;
pub mod bind;
pub mod plan;
pub mod lower;
pub mod pipeline;
