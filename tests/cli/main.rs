//! The CLI test binary: the real `bpfq` run as a user would (arguments, output, query files,
//! completion, manual, the bad-input corpus, examples/), one module per area. Tests that count
//! kernel-wide objects take `common::exclusive_kernel`, the others `common::shared_kernel`.

#[path = "../common/mod.rs"]
mod common;

mod completion;
mod corpus;
mod errors;
mod examples;
mod fmt;
mod limits;
mod man;
mod output;
mod queryfile;
mod tools;
