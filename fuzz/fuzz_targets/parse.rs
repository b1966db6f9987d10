//! Fuzz target: the parser (queries and stdlib-style modules) on arbitrary UTF-8, and the
//! formatter's round trip: a module that parses formats (the formatter's own check then
//! guarantees the same tree and the same comments), and formatting the output changes nothing.
#![no_main]

use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::syntax::{format_module, parse_module, parse_query};
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
    match parse_module(text, file) {
        Err(diagnostic) => {
            let _ = diagnostic.render(&sources);
        }
        Ok(_) => {
            let formatted = match format_module(text, file) {
                Ok(formatted) => formatted,
                Err(diagnostic) => panic!(
                    "a module that parses does not format:\n{}",
                    diagnostic.render(&sources)
                ),
            };
            let again = format_module(&formatted, file);
            assert_eq!(
                again.as_deref(),
                Ok(formatted.as_str()),
                "formatting is not idempotent"
            );
        }
    }
});
