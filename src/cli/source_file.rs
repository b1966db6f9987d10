//! CLI: reading source text (query files, modules, user stdlib files, `fmt`'s input). Guarantees
//! every one goes through `bpfq_compiler::source_text::source_text`: a leading byte order mark
//! dropped, text that is not UTF-8 a coded E0020 at the first bad byte, its bytes never shown.

use std::path::Path;

use bpfq_compiler::modules::ReadFailure;
use bpfq_compiler::source_text::source_text;

use super::Failure;

/// The text of the file at `path`, or why there is none.
pub fn read_text(path: &Path) -> Result<String, ReadFailure> {
    let bytes = std::fs::read(path)
        .map_err(|e| ReadFailure::Unreadable(format!("{}: {e}", path.display())))?;
    source_text(bytes, &path.display().to_string()).map_err(|diag| ReadFailure::NotText(diag.into()))
}

/// The text of the file at `path`; `what` names the kind of file in a read error.
pub fn read_source(path: &Path, what: &str) -> Result<String, Failure> {
    read_text(path).map_err(|failure| read_failure(failure, what))
}

/// `bytes` read from `name` as text.
pub fn decode(bytes: Vec<u8>, name: &str) -> Result<String, Failure> {
    source_text(bytes, name).map_err(|diag| Failure::Compile(Box::new(diag), Box::default()))
}

/// A failed read of a `what` as the command's failure.
pub fn read_failure(failure: ReadFailure, what: &str) -> Failure {
    match failure {
        ReadFailure::NotText(diag) => Failure::Compile(diag, Box::default()),
        ReadFailure::Unreadable(why) | ReadFailure::Untrusted { why, .. } => {
            Failure::Usage(format!("cannot read {what} {why}"))
        }
    }
}
