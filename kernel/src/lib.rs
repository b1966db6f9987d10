//! Kernel knowledge stage: reads BTF (raw or xz) lazily, lists BPF iterator targets and names BPF helper ids; never touches the running kernel itself.
#![forbid(unsafe_code)]

pub mod btf;
pub mod catalogue;
pub mod helpers;

pub use btf::{Btf, BtfError, BtfType, Kind, Member, TypeId};
pub use catalogue::{
    discover, find_target, meta_layout, type_name, CtxField, IterTarget, MetaLayout,
};
