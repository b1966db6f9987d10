//! Stage `bind` input: the standard library of columns, written in bpfq and embedded in the
//! binary. Guarantees: definitions are only parsed here, an embedded one the first time a query
//! asks for it (a query pays for the columns it uses, not for its target's whole file); each is
//! bound lazily, per query, so a column that does not fit the running kernel breaks only the
//! queries that use it.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use crate::diagnostic::{Diagnostic, FileId, Sources, Span};
use crate::syntax::ast::{ColumnDecl, Ident, Item};
use crate::syntax::lexical::{self, TokenKind};
use crate::syntax::{parse_module_file, parse_module_range};

// `EMBEDDED`: every stdlib/*.bpfq file, listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));

/// Column definitions and default column lists, by target.
#[derive(Debug, Default)]
pub struct Stdlib {
    /// In definition order; `None` where a later definition replaced the column.
    columns: Vec<Option<Column>>,
    /// (target, name) -> the column's place in `columns`: a lookup or a replacement costs the
    /// same however many columns a file defines.
    by_name: HashMap<(String, String), usize>,
    defaults: Vec<(String, Vec<Ident>, Span)>,
}

/// One `column` definition, parsed on first use when it comes from an embedded file.
#[derive(Debug)]
struct Column {
    target: String,
    name: String,
    decl: OnceLock<ColumnDecl>,
    /// The embedded file's text and the byte range of this definition with the comments above it;
    /// `None` once parsed up front (user files).
    unparsed: Option<(FileId, &'static str, Range<usize>)>,
}

impl Column {
    fn parsed(decl: ColumnDecl) -> Column {
        Column {
            target: decl.target.name.clone(),
            name: decl.name.name.clone(),
            decl: OnceLock::from(decl),
            unparsed: None,
        }
    }

    fn decl(&self) -> &ColumnDecl {
        self.decl.get_or_init(|| {
            let (file, text, range) = self
                .unparsed
                .clone()
                .unwrap_or_else(|| unreachable!("a column without text is parsed at creation"));
            // The embedded files are fixed at build time and a test parses every definition of
            // them this way, so a failure here is a bug in bpfq (reported as E0903).
            let module = parse_module_range(text, range, file).unwrap_or_else(|diagnostic| {
                panic!(
                    "embedded stdlib column {}.{} does not parse: {}",
                    self.target, self.name, diagnostic.message
                )
            });
            match module.items.into_iter().next() {
                Some(Item::Column(decl)) => decl,
                _ => panic!(
                    "embedded stdlib text of {}.{} is no column definition",
                    self.target, self.name
                ),
            }
        })
    }
}

impl Stdlib {
    /// Parses the embedded files, then `extra` files (a user's search path) which may add columns
    /// or override embedded ones of the same target and name.
    pub fn load(sources: &mut Sources, extra: &[(String, String)]) -> Result<Stdlib, Diagnostic> {
        Self::load_for(sources, None, extra)
    }

    /// Like `load`, but of the embedded files parses only `stdlib/<target>.bpfq` — the one that
    /// holds that target's columns — so start-up does not grow with the stdlib. User files are
    /// always parsed whole.
    pub fn load_for(
        sources: &mut Sources,
        target: Option<&str>,
        extra: &[(String, String)],
    ) -> Result<Stdlib, Diagnostic> {
        let targets: Option<Vec<String>> = target.map(|t| vec![t.to_string()]);
        Self::load_targets(sources, targets.as_deref(), extra)
    }

    /// Like `load_for`, with the embedded files of several targets (`None`: all of them) — a
    /// query's target and the `std.NAME` modules its file uses.
    pub fn load_targets(
        sources: &mut Sources,
        targets: Option<&[String]>,
        extra: &[(String, String)],
    ) -> Result<Stdlib, Diagnostic> {
        let mut lib = Stdlib::default();
        let wanted: Option<Vec<String>> =
            targets.map(|ts| ts.iter().map(|t| embedded_name(t)).collect());
        let embedded = EMBEDDED
            .iter()
            .filter(|(n, _)| wanted.as_ref().is_none_or(|w| w.iter().any(|w| w == n)));
        for &(name, text) in embedded {
            let file = sources.add(name, text);
            lib.add_embedded(file, text)?;
        }
        for (name, text) in extra {
            let file: FileId = sources.add(name.clone(), text.clone());
            let module = parse_module_file(sources.text(file), file, name)?;
            for item in module.items {
                lib.define(item);
            }
        }
        Ok(lib)
    }

    /// Splits an embedded file into its `;`-ended items with one lexical scan. A `column T.N`
    /// item is kept as text to parse when first asked for; any other item is parsed now.
    fn add_embedded(&mut self, file: FileId, text: &'static str) -> Result<(), Diagnostic> {
        let tokens = lexical::scan(text, file)?;
        let mut item_start = 0;
        let mut first_token = 0;
        for (index, token) in tokens.iter().enumerate() {
            let is_last = index + 1 == tokens.len();
            if token.text(text) != ";" && !is_last {
                continue;
            }
            let item = &tokens[first_token..=index];
            let range = item_start..token.end;
            let word = |index: usize, kind: TokenKind| {
                item.get(index)
                    .filter(|token| token.kind == kind)
                    .map(|token| token.text(text))
            };
            let column = (word(0, TokenKind::Word) == Some("column")
                && word(2, TokenKind::Punct) == Some("."))
            .then(|| word(1, TokenKind::Word).zip(word(3, TokenKind::Word)))
            .flatten();
            match column {
                Some((target, name)) => self.push_column(Column {
                    target: target.to_string(),
                    name: name.to_string(),
                    decl: OnceLock::new(),
                    unparsed: Some((file, text, range)),
                }),
                None => {
                    for item in parse_module_range(text, range, file)?.items {
                        self.define(item);
                    }
                }
            }
            item_start = token.end;
            first_token = index + 1;
        }
        Ok(())
    }

    /// Adds `column` last, replacing an earlier one of the same target and name.
    fn push_column(&mut self, column: Column) {
        let key = (column.target.clone(), column.name.clone());
        if let Some(earlier) = self.by_name.insert(key, self.columns.len()) {
            self.columns[earlier] = None;
        }
        self.columns.push(Some(column));
    }

    /// Adds a `column` or `defaults` item, replacing an earlier one of the same target and
    /// name; other items are not the stdlib's business.
    pub fn define(&mut self, item: Item) {
        match item {
            Item::Column(decl) => self.push_column(Column::parsed(decl)),
            Item::Defaults(decl) => {
                self.defaults.retain(|(t, _, _)| *t != decl.target.name);
                self.defaults
                    .push((decl.target.name, decl.columns, decl.span));
            }
            _ => {}
        }
    }

    /// Where the `defaults` line of a target is.
    pub fn defaults_span(&self, target: &str) -> Option<Span> {
        self.defaults
            .iter()
            .find(|(t, _, _)| t == target)
            .map(|(_, _, span)| *span)
    }

    pub fn column(&self, target: &str, name: &str) -> Option<&ColumnDecl> {
        let at = *self.by_name.get(&(target.to_string(), name.to_string()))?;
        self.columns[at].as_ref().map(Column::decl)
    }

    /// Every column of `target`, parsed (for `describe` and completion).
    pub fn columns_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a ColumnDecl> + 'a {
        self.columns
            .iter()
            .flatten()
            .filter(move |c| c.target == target)
            .map(Column::decl)
    }

    /// The names of `target`'s columns, in definition order, without parsing them (suggestions).
    pub fn column_names_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.columns
            .iter()
            .flatten()
            .filter(move |c| c.target == target)
            .map(|c| c.name.as_str())
    }

    /// The columns `select *` shows for a target.
    pub fn defaults(&self, target: &str) -> Option<&[Ident]> {
        self.defaults
            .iter()
            .find(|(t, _, _)| t == target)
            .map(|(_, cols, _)| cols.as_slice())
    }
}

/// The embedded file of a target's columns (`stdlib/tcp.bpfq`), by the name `use std.tcp` gives.
pub fn embedded_name(target: &str) -> String {
    format!("stdlib/{target}.bpfq")
}

/// The targets that have an embedded stdlib file, for `use std.NAME`.
pub fn embedded_targets() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().filter_map(|(name, _)| {
        name.strip_prefix("stdlib/")
            .and_then(|n| n.strip_suffix(".bpfq"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_module;

    /// Every embedded definition, parsed on its own when first used, is what a parse of its
    /// whole file gives: same spans, doc comments and trees, same defaults.
    #[test]
    fn definitions_parsed_on_demand_equal_a_whole_file_parse() {
        for &(name, text) in EMBEDDED {
            let mut sources = Sources::new();
            let file = sources.add(name, text);
            let whole = parse_module(text, file).expect("embedded stdlib parses");
            let mut lib = Stdlib::default();
            lib.add_embedded(file, text)
                .expect("embedded stdlib splits");
            let mut eager = Stdlib::default();
            for item in whole.items {
                eager.define(item);
            }
            let lazy: Vec<&ColumnDecl> = lib.columns.iter().flatten().map(Column::decl).collect();
            let whole: Vec<&ColumnDecl> =
                eager.columns.iter().flatten().map(Column::decl).collect();
            assert!(!whole.is_empty(), "{name} defines no column");
            assert_eq!(lazy, whole, "{name}");
            assert_eq!(lib.defaults, eager.defaults, "{name}");
        }
    }

    #[test]
    fn an_embedded_column_stays_unparsed_until_asked_for() {
        let mut sources = Sources::new();
        let lib = Stdlib::load_for(&mut sources, Some("task"), &[]).expect("task stdlib loads");
        let parsed = |lib: &Stdlib| {
            lib.columns
                .iter()
                .flatten()
                .filter(|c| c.decl.get().is_some())
                .count()
        };
        assert_eq!(parsed(&lib), 0);
        assert!(lib.column("task", "comm").is_some());
        assert_eq!(parsed(&lib), 1);
        assert!(lib.column_names_of("task").any(|n| n == "ppid"));
        assert_eq!(parsed(&lib), 1);
    }
}
