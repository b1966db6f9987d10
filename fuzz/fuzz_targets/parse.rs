//! Fuzz target: the parser (queries and stdlib-style modules) on arbitrary UTF-8.
#![no_main]

use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::syntax::{parse_module, parse_query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = Sources::new();
    let file = sources.add("<fuzz>", text);
    if let Err(diagnostic) = parse_query(text, file) {
        let _ = diagnostic.render(&sources);
    }
    if let Err(diagnostic) = parse_module(text, file) {
        let _ = diagnostic.render(&sources);
    }
});
