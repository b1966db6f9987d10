//! Pest tree access (stage: parse): spans, names, types and checked child access over
//! pest pairs. A tree shape the grammar cannot produce becomes an internal-error
//! diagnostic instead of a panic.

use pest::iterators::Pair;

use super::ast::{Ident, TypeName};
use super::lexical::Token;
use super::Rule;
use crate::codes;
use crate::diagnostic::{Diagnostic, FileId, Span};

/// What every tree walker needs: the file the pairs came from and its tokens.
#[derive(Clone, Copy)]
pub struct Ctx<'t> {
    pub file: FileId,
    pub tokens: &'t [Token],
    /// Where the parsed text starts in its file (non-zero when one item of a file is parsed on
    /// its own); every span is shifted by it so it points into the whole file.
    pub base: usize,
}

impl Ctx<'_> {
    /// The pair's source range without trailing whitespace and comments (pest
    /// includes them when an optional part at the end of a rule did not match).
    pub fn span(self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        let (start, end) = (span.start(), span.end());
        let tokens_before_end = self.tokens.partition_point(|token| token.end <= end);
        let end = match tokens_before_end
            .checked_sub(1)
            .map(|index| self.tokens[index])
        {
            Some(last) if last.end > start => last.end,
            _ => start,
        };
        Span::new(self.file, self.base + start, self.base + end)
    }

    /// An "impossible" tree shape: reported, never panicked on.
    pub fn internal(self, pair: &Pair<'_, Rule>, what: &str) -> Diagnostic {
        Diagnostic::error(
            codes::INTERNAL_PARSER,
            format!(
                "internal parser error: {what} (found {:?}); this is a bug in bpfq",
                pair.as_rule()
            ),
        )
        .with_primary(self.span(pair), "while reading this")
    }

    pub fn internal_missing(self, parent: &Pair<'_, Rule>, what: &str) -> Diagnostic {
        self.internal(parent, &format!("missing {what}"))
    }

    /// `ident` or `field_name`: a plain word or a backquoted name.
    pub fn ident(self, pair: Pair<'_, Rule>) -> Result<Ident, Diagnostic> {
        let span = self.span(&pair);
        let inner = pair
            .clone()
            .into_inner()
            .next()
            .ok_or_else(|| self.internal_missing(&pair, "name"))?;
        let name = match inner.as_rule() {
            Rule::word => inner.as_str().to_string(),
            Rule::quoted => inner
                .into_inner()
                .next()
                .map(|name| name.as_str().to_string())
                .ok_or_else(|| self.internal_missing(&pair, "quoted name"))?,
            _ => return Err(self.internal(&inner, "expected a name")),
        };
        Ok(Ident { name, span })
    }

    /// `type_name`: `[struct] name`
    pub fn type_name(self, pair: Pair<'_, Rule>) -> Result<TypeName, Diagnostic> {
        let span = self.span(&pair);
        let mut is_struct = false;
        for child in pair.clone().into_inner() {
            match child.as_rule() {
                Rule::kw_struct => is_struct = true,
                Rule::ident => {
                    return Ok(TypeName {
                        name: self.ident(child)?.name,
                        is_struct,
                        span,
                    })
                }
                _ => return Err(self.internal(&child, "unexpected part of a type")),
            }
        }
        Err(self.internal_missing(&pair, "type name"))
    }
}

/// Children that carry meaning: punctuation tokens are named rules only so that error
/// messages can list them; tree walkers skip them.
pub fn significant<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner()
        .filter(|child| !is_punctuation(child.as_rule()))
}

fn is_punctuation(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::lparen
            | Rule::rparen
            | Rule::lbracket
            | Rule::rbracket
            | Rule::comma
            | Rule::semicolon
            | Rule::dot
            | Rule::colon
            | Rule::equals
            | Rule::alt
            | Rule::EOI
    )
}
