//! Input files as the CLI reads them: every query file, module, user library file and `--btf`
//! goes through `bpfq_kernel::input`'s bounded reader; a refusal (not a regular file, too large)
//! is a coded diagnostic (E0123) naming the file and what it is.

use std::path::Path;

use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::{Diagnostic, Sources};
use bpfq_kernel::input::{read_input_text, size_text, InputError, MAX_BTF_BYTES, MAX_SOURCE_BYTES};

use super::Failure;

/// The text of the query file, module or user library file at `path`; `what` names it in
/// messages ("query file"). A failed open or read is a usage error as before.
pub fn read_source(path: &Path, what: &str) -> Result<String, Failure> {
    read_input_text(path, MAX_SOURCE_BYTES).map_err(|error| failure(path, what, error))
}

/// `error` reading the `what` at `path` as the CLI reports it.
pub fn failure(path: &Path, what: &str, error: InputError) -> Failure {
    match error {
        InputError::Io(message) => {
            Failure::Usage(format!("cannot read {what} {}: {message}", path.display()))
        }
        refused => Failure::Compile(
            Box::new(refusal(path, what, &refused)),
            Box::new(Sources::new()),
        ),
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
