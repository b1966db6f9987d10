//! CLI: `--changes` and `--key`. Guarantees a change log is made only for a repeated run
//! (E0907) of a query with no column named like a change column (E0908), keyed by columns the
//! query selects (E0906, pointing at the name in `--key`); all of it before anything is loaded.

use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::{nearest_names, Diagnostic, Sources, Span};
use bpfq_compiler::pipeline::CompiledQuery;
use bpfq_runtime::changes::ChangeLog;
use bpfq_runtime::format::change_rows::CHANGE_COLUMNS;
use bpfq_runtime::pipeline::visible_layout;

use super::args::RunArgs;
use super::Failure;

/// The change log of `--changes` (None without it), for `compiled` from the text `query`;
/// `repeated`: the query runs on a `--watch`/`--count` schedule.
pub fn change_log(
    how: &RunArgs,
    compiled: &CompiledQuery,
    query: &str,
    repeated: bool,
) -> Result<Option<ChangeLog>, Failure> {
    if !how.changes {
        return Ok(None);
    }
    if !repeated {
        let diag = Diagnostic::error(
            codes::CHANGES_WITHOUT_REPEAT,
            "--changes compares each run with the one before it, and this query runs once",
        )
        .with_note("help: add `--watch SECS` (or `--count N`) to run it again and again");
        return Err(Failure::Compile(Box::new(diag), Box::new(Sources::new())));
    }
    // Joins run once (`execute_query` refuses them a schedule before this).
    let CompiledQuery::Single(compiled) = compiled else {
        return Ok(None);
    };
    let layout = visible_layout(&compiled.plan.layout, &compiled.plan.user);
    let columns: Vec<&str> = layout.columns.iter().map(|c| c.name.as_str()).collect();
    if let Some(taken) = columns.iter().find(|name| CHANGE_COLUMNS.contains(name)) {
        return Err(column_taken(taken, query));
    }
    let key = match &how.key {
        Some(text) => Some(key_columns(text, &columns)?),
        None => None,
    };
    Ok(Some(ChangeLog::new(key)))
}

/// The indices in `columns` of the names of `--key TEXT`, else E0906 at the first unknown one.
fn key_columns(text: &str, columns: &[&str]) -> Result<Vec<usize>, Failure> {
    let mut indices = Vec::new();
    let mut start = 0;
    for part in text.split(',') {
        let name = part.trim();
        let at = start + (part.len() - part.trim_start().len());
        start += part.len() + 1;
        match columns.iter().position(|column| *column == name) {
            Some(index) if !indices.contains(&index) => indices.push(index),
            Some(_) => {}
            None => return Err(unknown_key(text, name, at, columns)),
        }
    }
    Ok(indices)
}

fn unknown_key(text: &str, name: &str, at: usize, columns: &[&str]) -> Failure {
    let mut sources = Sources::new();
    let file = sources.add("--key", text);
    let (message, label) = if name.is_empty() {
        ("--key has an empty column name".to_string(), "no name here")
    } else {
        (
            format!("the query selects no column `{name}`"),
            "not a column of the query",
        )
    };
    let span = Span::new(file, at, at + name.len());
    let diag = Diagnostic::error(codes::CHANGE_KEY_UNKNOWN, message)
        .with_primary(span, label)
        .with_note(format!("the query's columns: {}", columns.join(", ")));
    let hint = match nearest_names(name, columns.iter().copied(), 1).first() {
        Some(near) => format!("help: did you mean `{near}`?"),
        None => format!(
            "help: name columns of the query, separated by commas: --key {}",
            columns[..columns.len().min(2)].join(",")
        ),
    };
    let diag = diag.with_note(hint);
    Failure::Compile(Box::new(diag), Box::new(sources))
}

/// E0908: the query selects a column named `taken`, pointed at where `query` names it (the
/// whole query when the name comes from elsewhere, such as a stdlib default).
fn column_taken(taken: &str, query: &str) -> Failure {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let span = match whole_word(query, taken) {
        Some(at) => Span::new(file, at, at + taken.len()),
        None => Span::new(file, 0, query.len()),
    };
    let diag = Diagnostic::error(
        codes::CHANGE_COLUMN_TAKEN,
        format!("the query has a column `{taken}`, and --changes adds one of that name"),
    )
    .with_primary(span, format!("a column named `{taken}`"))
    .with_note(format!(
        "--changes starts each row with {}",
        CHANGE_COLUMNS.join(", ")
    ))
    .with_note(format!("help: rename the column: `... as {taken}_`"));
    Failure::Compile(Box::new(diag), Box::new(sources))
}

/// The last place where `word` stands alone in `text` (not inside a longer name): a select
/// list's `as` name comes after the expression.
fn whole_word(text: &str, word: &str) -> Option<usize> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word)
        .filter(|(at, _)| {
            let before = text[..*at].chars().next_back();
            let after = text[at + word.len()..].chars().next();
            !before.is_some_and(is_name) && !after.is_some_and(is_name)
        })
        .map(|(at, _)| at)
        .last()
}
