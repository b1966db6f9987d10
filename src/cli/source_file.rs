//! CLI: reading source text (query files, modules, user stdlib files, `fmt`'s input). Guarantees
//! every one goes through `bpfq_compiler::source_text::source_text`: a leading byte order mark
//! dropped, text that is not UTF-8 a coded E0020 at the first bad byte.

use std::path::Path;

use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::source_text::source_text;

use super::Failure;

/// The text of the file at `path`; `what` names the kind of file in a read error.
pub fn read_source(path: &Path, what: &str) -> Result<String, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Usage(format!("cannot read {what} {}: {e}", path.display())))?;
    decode(bytes, &path.display().to_string())
}

/// `bytes` read from `name` as text.
pub fn decode(bytes: Vec<u8>, name: &str) -> Result<String, Failure> {
    let mut sources = Sources::new();
    source_text(bytes, name, &mut sources)
        .map_err(|diag| Failure::Compile(Box::new(diag), Box::new(sources)))
}
