//! Stage `bind`: enum members named in a query. Resolves a name (`TCP_LISTEN`, `LISTEN`,
//! or the string `"TCP_LISTEN"`) to the member's value; a string naming no member is E0226
//! with the nearest member names, so a typo never silently compares with nothing.

use super::quote_list;
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Span};

/// The value of the member called `name`: exactly, or after the prefix the enum's members share
/// (`LISTEN` finds `TCP_LISTEN`), as users of `ss` write states.
pub(super) fn member_value(values: &[(&str, i64)], name: &str) -> Option<i64> {
    let suffix = format!("_{name}");
    values
        .iter()
        .find(|(n, _)| *n == name)
        .or_else(|| values.iter().find(|(n, _)| n.ends_with(&suffix)))
        .map(|(_, v)| *v)
}

/// E0226 for the string `name` at `span`, which names no member of the enum of `values`.
pub(super) fn no_such_member<'a>(values: &[(&'a str, i64)], name: &str, span: Span) -> Diagnostic {
    let prefix = common_prefix(values);
    let short_of = |full: &'a str| -> &'a str { full.get(prefix.len()..).unwrap_or(full) };
    // Rank the short names too, so `"LISTENING"` still suggests `TCP_LISTEN`.
    let wanted = match name.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => &name[prefix.len()..],
        _ => name,
    };
    let near_short = nearest_names(wanted, values.iter().map(|(n, _)| short_of(n)), 4);
    let near: Vec<&str> = values
        .iter()
        .map(|(n, _)| *n)
        .filter(|full| near_short.contains(&short_of(full)))
        .collect();
    let mut diag = Diagnostic::error(
        codes::UNKNOWN_ENUM_MEMBER,
        format!("\"{name}\" names no value of this enum"),
    )
    .with_primary(span, "compared with an enum value");
    diag = if near.is_empty() {
        let all: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
        diag.with_note(format!("its values are {}", quote_list(&all)))
    } else {
        diag.with_note(format!("did you mean {}?", quote_list(&near)))
    };
    match values.first() {
        Some((example, _)) if !prefix.is_empty() => diag.with_note(format!(
            "names are case-sensitive: write a value in full (`\"{example}\"`) or without `{prefix}` (`\"{}\"`)",
            short_of(example)
        )),
        _ => diag,
    }
}

/// The prefix up to and including the last `_` that every member shares (`TCP_`), or "".
fn common_prefix<'a>(values: &[(&'a str, i64)]) -> &'a str {
    let Some(((first, _), rest)) = values.split_first() else {
        return "";
    };
    let mut len = first.len();
    for (name, _) in rest {
        len = first
            .bytes()
            .zip(name.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    first[..len].rfind('_').map_or("", |at| &first[..=at])
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: &[(&str, i64)] = &[
        ("TCP_ESTABLISHED", 1),
        ("TCP_SYN_SENT", 2),
        ("TCP_LISTEN", 10),
    ];

    #[test]
    fn finds_members_by_full_and_short_name() {
        assert_eq!(member_value(STATES, "TCP_LISTEN"), Some(10));
        assert_eq!(member_value(STATES, "LISTEN"), Some(10));
        assert_eq!(member_value(STATES, "SENT"), Some(2));
        assert_eq!(member_value(STATES, "listen"), None);
    }

    #[test]
    fn common_prefix_stops_at_an_underscore() {
        assert_eq!(common_prefix(STATES), "TCP_");
        assert_eq!(common_prefix(&[("AB_C", 0), ("ABD", 1)]), "");
        assert_eq!(common_prefix(&[]), "");
    }
}
