//! The compile-only test binary: golden tests of every compiler stage against the BTF fixtures
//! kept in the repo (never the host's BTF), and the BPF encoder checked against llvm-mc, one
//! module per former test file; set-up shared in `common`.

#[macro_use]
mod common;

mod addresses;
mod bpf_asm;
mod bpf_disasm;
mod bpf_llvm_mc;
mod bpf_roundtrip;
mod complete;
mod d_path_walk;
mod diagnostics;
mod fmt;
mod fmt_comments_anywhere;
mod functions;
mod fuzz_front;
mod isa_variants;
mod kernfs_path;
mod map_elem;
mod map_walk;
mod metric;
mod modules;
mod parse;
mod queryfile;
mod socket_storage;
mod stages;
mod stdlib_bpf;
mod stdlib_maps;
mod stdlib_sockets;
mod stdlib_system;
mod text_output;
