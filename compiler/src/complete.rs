//! Completion of a query being typed (shell TAB, `bpfq __complete`): from the unfinished text
//! alone, what may come next — a target after `from`, columns and context fields in `select`,
//! `where` and `order by`, one step of a field path (`task.mm.` lists `struct mm_struct`).
//! Guarantees the names offered are those the binder accepts on this BTF (paths are typed by
//! the binder itself), and never fails: text it cannot follow gets no candidates.

use crate::bind::{BindEnv, Ty};
use crate::describe::type_of;
use bpfq_kernel::catalogue::{discover, find_target};

/// Words that continue a query after a complete expression or target.
const CLAUSE_KEYWORDS: &[&str] = &["select", "where", "order", "limit"];
/// Words that may come inside the expressions of `select`, `where` and `order by`.
const EXPR_KEYWORDS: &[&str] = &[
    "and", "or", "not", "like", "in", "is", "null", "as", "cast", "asc", "desc",
];

/// Candidates for the unfinished word at the end of `text`: each is the whole word (a path
/// keeps its written prefix, `task.mm.total_vm`), sorted, without duplicates.
pub(crate) fn complete(env: &BindEnv, text: &str) -> Vec<String> {
    let word = unfinished_word(text);
    let before = &text[..text.len() - word.len()];
    let words: Vec<String> = before
        .split(|c: char| c.is_whitespace() || ",()=<>!+-*/%&|^~".contains(c))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut out: Vec<String> = match clause_of(&words) {
        Clause::Target => discover(env.btf)
            .map(|targets| targets.into_iter().map(|t| t.name).collect())
            .unwrap_or_default(),
        Clause::AfterTarget => CLAUSE_KEYWORDS.iter().map(|k| k.to_string()).collect(),
        Clause::By => vec!["by".to_string()],
        Clause::Expr(target) => match word.rfind('.') {
            Some(dot) => members_behind(env, &target, &word[..dot]),
            None => names_in(env, &target, !word.is_empty()),
        },
        Clause::Nothing => Vec::new(),
    };
    out.retain(|c| c.starts_with(word));
    out.sort();
    out.dedup();
    out
}

/// The trailing run of name and path characters (`task.mm.tot`, `comm`, or empty).
pub fn unfinished_word(text: &str) -> &str {
    let start = text
        .char_indices()
        .rev()
        .take_while(|&(_, c)| c.is_ascii_alphanumeric() || "_.[]$".contains(c))
        .last()
        .map_or(text.len(), |(i, _)| i);
    &text[start..]
}

enum Clause {
    /// Right after `from`.
    Target,
    /// After `from <target>`: a clause keyword comes next.
    AfterTarget,
    /// After `order`.
    By,
    /// In `select`, `where` or `order by` of this target.
    Expr(String),
    /// After `limit`, or text without `from`.
    Nothing,
}

fn clause_of(words: &[String]) -> Clause {
    let Some(from) = words.iter().rposition(|w| w == "from") else {
        return Clause::Nothing;
    };
    let Some(target) = words.get(from + 1) else {
        return Clause::Target;
    };
    let last_keyword = words[from + 1..].iter().rev().find(|w| {
        matches!(
            w.as_str(),
            "select" | "where" | "order" | "by" | "limit" | "asc" | "desc"
        )
    });
    match (last_keyword.map(String::as_str), words.last()) {
        (_, Some(last)) if last == "order" => Clause::By,
        (_, Some(last)) if last == "limit" => Clause::Nothing,
        (None, _) => Clause::AfterTarget,
        (Some("limit"), _) => Clause::Nothing,
        _ => Clause::Expr(target.clone()),
    }
}

/// Stdlib columns and context fields of `target`, the keywords, and with `with_members` (the
/// user typed a first letter) the members of the main object, which may be written bare.
fn names_in(env: &BindEnv, target: &str, with_members: bool) -> Vec<String> {
    let mut out: Vec<String> = env
        .stdlib
        .columns_of(target)
        .map(|c| c.name.name.clone())
        .collect();
    out.extend(CLAUSE_KEYWORDS[1..].iter().map(|k| k.to_string()));
    out.extend(EXPR_KEYWORDS.iter().map(|k| k.to_string()));
    if let Ok(Some(found)) = find_target(env.btf, target) {
        out.extend(found.context.iter().map(|f| f.name.clone()));
        let main = found.main_object.and_then(|i| found.context[i].pointee);
        if let (true, Some(id)) = (with_members, main) {
            if let Ok(members) = env.btf.members(id) {
                out.extend(members.iter().map(|m| m.name.to_string()));
            }
        }
    }
    out
}

/// `path.member` for each member of the struct `path` leads to (through a pointer).
fn members_behind(env: &BindEnv, target: &str, path: &str) -> Vec<String> {
    let id = match type_of(env, target, path, None) {
        Ok(Ty::Ptr { pointee }) => pointee,
        Ok(Ty::Struct { id }) => id,
        _ => return Vec::new(),
    };
    env.btf
        .members(id)
        .map(|members| {
            members
                .iter()
                .filter(|m| !m.name.is_empty())
                .map(|m| format!("{path}.{}", m.name))
                .collect()
        })
        .unwrap_or_default()
}
