//! Stage `parse` for files read from disk (user stdlib files, modules, query files): a file that
//! is not bpfq query text — its first word starts no bpfq item — is reported by its name only
//! (E0016; bytes that are not UTF-8 are E0020, also unquoted). Guarantee: its bytes never reach
//! a diagnostic, so a path that leads to the wrong file (a secret) does not print that file; a
//! file that starts as query text is quoted, its control characters escaped.

use super::{ast, parse_module};
use crate::codes;
use crate::diagnostic::{Diagnostic, FileId};

/// The words a bpfq item can start with (`from` for a bare query).
const ITEM_WORDS: &[&str] = &["column", "defaults", "param", "query", "use", "from"];

/// Parses the file `name` (its text `src`) as `parse_module` does; if it does not parse and
/// does not look like query text, the diagnostic names the file instead of quoting it.
pub fn parse_module_file(src: &str, file: FileId, name: &str) -> Result<ast::Module, Diagnostic> {
    parse_module(src, file).map_err(|diagnostic| match why_not_query_text(src) {
        None => diagnostic,
        Some(why) => not_query_text(name, why),
    })
}

/// E0016 for the file `name`, with `why` it is not query text.
pub fn not_query_text(name: &str, why: &str) -> Diagnostic {
    Diagnostic::error(
        codes::NOT_QUERY_TEXT,
        format!("{name} is not a bpfq query file: {why}"),
    )
    .with_note("its contents are not shown")
    .with_note("help: check that the path leads to the .bpfq file you meant")
}

/// Why `text` is not query text, if it is not: its first word (after blanks, `--` comments and
/// `;`) starts no bpfq item.
pub fn why_not_query_text(text: &str) -> Option<&'static str> {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        match rest.strip_prefix("--") {
            Some(comment) => rest = comment.split_once('\n').map_or("", |(_, after)| after),
            None => break,
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let starts_an_item =
        rest.is_empty() || ITEM_WORDS.iter().any(|w| w.eq_ignore_ascii_case(&word));
    (!starts_an_item).then_some(
        "it does not start with a bpfq item (`column`, `defaults`, `param`, `query`, `use` or \
         `from`)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_starts_with_an_item_after_comments() {
        for text in [
            "",
            "-- a comment\n\ncolumn task.x = 1;",
            ";; use net.ports;",
            "--- doc\nquery q = from task select pid;",
            "from task select pid",
            "COLUMN task.x = 1;",
            "column\u{0}",
        ] {
            assert_eq!(why_not_query_text(text), None, "{text:?}");
        }
        for text in [
            "root:$y$j9T$secret:19000:0:99999:7:::",
            "columns task.x = 1;",
            "\u{0}\u{1}\u{2} binary",
            "# a shell script",
        ] {
            assert!(why_not_query_text(text).is_some(), "{text:?}");
        }
    }

    #[test]
    fn a_file_that_is_not_query_text_is_named_never_quoted() {
        let secret = "root:$y$j9T$MARKERSECRET:19000:0:99999:7:::\n";
        let mut sources = crate::diagnostic::Sources::new();
        let file = sources.add("/etc/shadow", secret);
        let diagnostic = parse_module_file(secret, file, "/etc/shadow").unwrap_err();
        let text = diagnostic.render(&sources);
        assert!(!text.contains("MARKERSECRET"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_query_file_with_a_mistake_is_still_quoted() {
        let src = "column task.x = ;\n";
        let mut sources = crate::diagnostic::Sources::new();
        let file = sources.add("mine.bpfq", src);
        let diagnostic = parse_module_file(src, file, "mine.bpfq").unwrap_err();
        assert!(diagnostic.render(&sources).contains("column task.x = ;"));
    }
}
