//! Input files as the CLI reads them. Guarantees: every query file, module, user library file,
//! `fmt` input and `--btf` goes through `bpfq_kernel::input`'s bounded reader (a regular file,
//! checked on the opened fd, of at most its cap: else E0123 naming the file and what it is);
//! source text then goes through `bpfq_compiler::source_text::source_text` (a leading byte
//! order mark dropped; bytes that are not UTF-8 E0020 at the first bad byte, never shown).

use std::io::Read;
use std::path::Path;

use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::Diagnostic;
use bpfq_compiler::modules::ReadFailure;
use bpfq_compiler::source_text::source_text;
use bpfq_kernel::input::{
    read_input, read_stream, size_text, InputError, MAX_BTF_BYTES, MAX_SOURCE_BYTES,
};

use super::Failure;

/// The text of the source file at `path` (a `what`: "query file", "module"), or why there is
/// none.
pub fn read_text(path: &Path, what: &str) -> Result<String, ReadFailure> {
    let bytes = read_input(path, MAX_SOURCE_BYTES).map_err(|error| match error {
        InputError::Io(message) => {
            ReadFailure::Unreadable(format!("{}: {message}", path.display()))
        }
        refused => ReadFailure::Refused(Box::new(refusal(path, what, &refused))),
    })?;
    source_text(bytes, &path.display().to_string())
        .map_err(|diag| ReadFailure::Refused(diag.into()))
}

/// The text of the source file at `path`; `what` names the kind of file in a read error.
pub fn read_source(path: &Path, what: &str) -> Result<String, Failure> {
    read_text(path, what).map_err(|failure| match failure {
        ReadFailure::Refused(diag) => Failure::Compile(diag, Box::default()),
        ReadFailure::Unreadable(why) | ReadFailure::Untrusted { why, .. } => {
            Failure::Usage(format!("cannot read {what} {why}"))
        }
    })
}

/// Source text from a stream (`fmt -`), read as a file is.
pub fn read_stream_source(stream: impl Read, name: &str) -> Result<String, Failure> {
    let bytes = read_stream(stream, MAX_SOURCE_BYTES)
        .map_err(|e| Failure::Usage(format!("cannot read {name}: {e}")))?;
    source_text(bytes, name).map_err(|diag| Failure::Compile(Box::new(diag), Box::default()))
}

/// `error` reading the `what` at `path` as the CLI reports it.
pub fn failure(path: &Path, what: &str, error: InputError) -> Failure {
    match error {
        InputError::Io(message) => {
            Failure::Usage(format!("cannot read {what} {}: {message}", path.display()))
        }
        refused => Failure::Compile(Box::new(refusal(path, what, &refused)), Box::default()),
    }
}

/// The E0123 diagnostic for a file the reader refused.
pub fn refusal(path: &Path, what: &str, why: &InputError) -> Diagnostic {
    Diagnostic::error(
        codes::INPUT_REFUSED,
        format!("cannot read {what} {}: {why}", path.display()),
    )
    .with_note(format!(
        "bpfq reads its inputs only from regular files: query files and modules of at most {}, BTF of at most {}",
        size_text(MAX_SOURCE_BYTES),
        size_text(MAX_BTF_BYTES)
    ))
}
