//! bpfq runtime: stages `load` (bpf(2) loader), `read` (iterator rows), `decode` and `format`.
//! `sys` holds the only `unsafe` code of the project.

#![deny(unsafe_code)]

pub mod boot_key;
pub mod caps;
pub mod changes;
pub mod clock;
pub mod container;
pub mod decode;
pub mod eval;
pub mod execute;
pub mod format;
mod framer;
pub mod group;
pub mod group_map;
pub mod grow;
pub mod join;
pub mod loader;
pub mod lockdown;
pub mod map_walk;
pub mod maps;
pub mod netns;
pub mod notes;
pub mod pin;
pub mod pipeline;
pub mod probe;
mod read_error;
pub mod reader;
pub mod ring_walk;
pub mod ringbuf;
pub mod row_source;
pub mod socket_keys;
#[allow(unsafe_code)]
pub mod sys;
pub mod trust;
pub mod user_fn;
pub mod verifier_report;

pub use decode::{decode_row, Cell, RawRow, Row, Value};
pub use format::{new_sink, FormatOptions, OutputFormat, RowSink};
pub use loader::{load_iter_program, IterLink, IterProgramSpec, LoadError, LoadedProgram};
pub use pipeline::{stream_rows, stream_rows_of, StreamError, StreamSummary};
pub use reader::{IterReader, ReadError, SilentWalk};
pub use row_source::RowSource;
