//! The BTF test binary of bpfq-kernel: decoding, catalogue, features, flattening and type names
//! against the committed BTF fixtures (opened once for the whole binary, in `common`), checked
//! against bpftool where it has a view.

mod common;

mod access;
mod bpftool_compare;
mod catalogue;
mod features;
mod flatten;
mod helpers;
mod malformed;
mod type_names;
