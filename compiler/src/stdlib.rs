//! Stage `bind` input: the standard library of columns, written in bpfq and embedded in the
//! binary. Guarantees: definitions are only parsed here; each is bound lazily, per query, so a
//! column that does not fit the running kernel breaks only the queries that use it.

use crate::diagnostic::{Diagnostic, FileId, Sources, Span};
use crate::syntax::ast::{ColumnDecl, Ident, Item};
use crate::syntax::parse_module;

// `EMBEDDED`: every stdlib/*.bpfq file, listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));

/// Column definitions and default column lists, by target.
#[derive(Debug, Default)]
pub struct Stdlib {
    columns: Vec<ColumnDecl>,
    defaults: Vec<(String, Vec<Ident>, Span)>,
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
            .filter(|(n, _)| wanted.as_ref().is_none_or(|w| w.iter().any(|w| w == n)))
            .map(|(n, t)| (n.to_string(), t.to_string()));
        for (name, text) in embedded.chain(extra.iter().cloned()) {
            let file: FileId = sources.add(name, text);
            let module = parse_module(sources.text(file), file)?;
            for item in module.items {
                lib.define(item);
            }
        }
        Ok(lib)
    }

    /// Adds a `column` or `defaults` item, replacing an earlier one of the same target and
    /// name; other items are not the stdlib's business.
    pub fn define(&mut self, item: Item) {
        match item {
            Item::Column(decl) => {
                self.columns.retain(|c| {
                    !(c.target.name == decl.target.name && c.name.name == decl.name.name)
                });
                self.columns.push(decl);
            }
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
        self.columns
            .iter()
            .find(|c| c.target.name == target && c.name.name == name)
    }

    pub fn columns_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a ColumnDecl> + 'a {
        self.columns.iter().filter(move |c| c.target.name == target)
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
