//! bpfq compiler: source text -> AST -> typed query -> plan -> IR -> BPF instructions + row layout.
//! No I/O happens here; every stage is a pure function of its input and the BTF it is given.
#![forbid(unsafe_code)]

pub mod address;
pub mod alu;
pub mod bind;
pub mod bpf;
pub mod codegen;
pub mod codes;
pub mod complete;
pub mod describe;
pub mod diagnostic;
pub mod elf;
pub mod group_place;
pub mod hidden;
pub mod int_view;
pub mod ir;
pub mod join;
pub mod layout;
pub mod lower;
pub mod map_walk;
pub mod map_walk_eval;
pub mod maps;
pub mod metric;
pub mod modules;
pub mod pipeline;
pub mod plan;
pub mod plan_layout;
pub mod projection;
pub mod queryfile;
pub mod scalar_fn;
pub mod socket_storage;
pub mod source_text;
pub mod stdlib;
pub mod syntax;
pub mod variants;
