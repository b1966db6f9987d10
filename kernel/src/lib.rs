//! Kernel knowledge stage: reads BTF (raw or xz) lazily, lists BPF iterator targets, names BPF helper ids, reads every input file through one bounded reader (`input`) and derives what the kernel lets an iterator program do (`features`); never touches the running kernel itself.
#![forbid(unsafe_code)]

pub mod btf;
pub mod catalogue;
pub mod features;
pub mod helpers;
pub mod input;

pub use btf::{Btf, BtfError, BtfType, Kind, Member, TypeId};
pub use catalogue::{
    discover, find_target, meta_layout, type_name, CtxField, IterTarget, MetaLayout,
};
pub use features::{FeatureReasons, KernelFeatures, Why};
