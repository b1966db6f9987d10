//! Stage `stdlib` for query files: follows `use` items. `use net.ports` is the file
//! `net/ports.bpfq` under the first search root that has it (the CLI gives the roots: the query
//! file's directory, `$BPFQ_PATH`, `~/.config/bpfq`); `use std.tcp` is the embedded stdlib file
//! of tcp. Guarantees: each module file is read and parsed once (a module used twice is loaded
//! once), a cycle, a missing or unreadable module and a module that does not parse are coded
//! diagnostics, and definitions apply in a fixed order — a module after the modules it uses,
//! the query file last — where a later definition may replace an earlier one only if its file
//! uses the earlier one's (directly or not); two modules that do not use each other and define
//! the same column are an error (E0122), never a silent winner.

use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, FileId, Sources};
use crate::stdlib::{embedded_targets, Stdlib};
use crate::syntax::ast::{Item, Module, UseDecl};
use crate::syntax::parse_module_file;
use std::collections::{HashMap, HashSet};

/// A module file found under a search root.
#[derive(Debug, Clone)]
pub struct FoundFile {
    /// What makes two paths the same file (a canonical path): cycles and repeats are found by it.
    pub identity: String,
    /// The path shown in diagnostics.
    pub display: String,
    pub text: String,
}

/// Why a module file that exists was not read.
#[derive(Debug, Clone)]
pub enum ReadFailure {
    /// It cannot be read: the path and the system's error.
    Unreadable(String),
    /// It, or a directory on its way, is not trusted (E0310): the reason and the fix.
    Untrusted { why: String, help: String },
    /// It cannot be taken as source text: not a regular file, too large (E0123), not UTF-8
    /// (E0020); the diagnostic names it without quoting it.
    Refused(Box<Diagnostic>),
}

/// The file system as module resolution sees it (the compiler does no I/O itself).
pub trait ModuleFiles {
    /// The search roots, in order, as shown to the user.
    fn roots(&self) -> Vec<String>;
    /// `relative` (`net/ports.bpfq`) under `root`: `None` if there is no such file, why not if
    /// it exists but may not or cannot be read.
    fn read(&self, root: &str, relative: &str) -> Option<Result<FoundFile, ReadFailure>>;
    /// The module names (`net.ports`) of the files under `root`, for suggestions.
    fn names_under(&self, root: &str) -> Vec<String>;
}

/// A used module, parsed.
#[derive(Debug)]
struct Loaded {
    /// The name the first `use` of it gave (`net.ports`).
    name: String,
    file: FileId,
    module: Module,
    /// The files of the modules it uses, directly or through others.
    reaches: HashSet<FileId>,
}

/// The modules a query file uses, in the order their definitions apply.
#[derive(Debug, Default)]
pub struct Modules {
    loaded: Vec<Loaded>,
    /// Targets named by `use std.NAME`, whose embedded files the stdlib must load.
    pub std_targets: Vec<String>,
}

/// Reads and parses every module `root` uses, directly or not. `root_identity` is the query
/// file's own identity, so a module that uses the query file back is a cycle.
pub fn resolve(
    root: &Module,
    root_file: FileId,
    root_identity: &str,
    files: &dyn ModuleFiles,
    sources: &mut Sources,
) -> Result<Modules, Diagnostic> {
    let mut walk = Walk {
        files,
        sources,
        modules: Modules::default(),
        done: HashMap::new(),
        stack: vec![(root_identity.to_string(), root_file)],
    };
    for decl in uses(root) {
        walk.visit(decl)?;
    }
    Ok(walk.modules)
}

fn uses(module: &Module) -> impl Iterator<Item = &UseDecl> {
    module.items.iter().filter_map(|item| match item {
        Item::Use(decl) => Some(decl),
        _ => None,
    })
}

struct Walk<'a> {
    files: &'a dyn ModuleFiles,
    sources: &'a mut Sources,
    modules: Modules,
    /// identity -> index in `modules.loaded`, for modules fully loaded.
    done: HashMap<String, usize>,
    /// The files being loaded, the query file first: identity and file id.
    stack: Vec<(String, FileId)>,
}

impl Walk<'_> {
    /// Loads the module `decl` names (and, first, the modules it uses); its file, if it is a
    /// file and not an embedded stdlib module.
    fn visit(&mut self, decl: &UseDecl) -> Result<Option<FileId>, Diagnostic> {
        let names: Vec<&str> = decl.path.iter().map(|i| i.name.as_str()).collect();
        if names.first() == Some(&"std") {
            return self.visit_std(decl, &names).map(|()| None);
        }
        let relative = format!("{}.bpfq", names.join("/"));
        let found = self
            .files
            .roots()
            .iter()
            .find_map(|root| self.files.read(root, &relative));
        let found = match found {
            Some(Ok(found)) => found,
            Some(Err(ReadFailure::Unreadable(why))) => return Err(Diagnostic::error(
                codes::MODULE_UNREADABLE,
                format!("cannot read module `{}`", names.join(".")),
            )
            .with_primary(decl.span, why)
            .with_note(
                "a module is a UTF-8 text file of `column`, `defaults`, `param` and `query` items",
            )),
            Some(Err(ReadFailure::Untrusted { why, help })) => {
                return Err(Diagnostic::error(
                    codes::UNTRUSTED_PATH,
                    format!("bpfq does not trust module `{}`", names.join(".")),
                )
                .with_primary(decl.span, why)
                .with_note(
                    "bpfq reads modules only through files and directories owned by root or \
                     the running user that no one else can write, as sudo and ssh do",
                )
                .with_note(format!("help: {help}")))
            }
            Some(Err(ReadFailure::Refused(diag))) => {
                return Err(diag.with_secondary(decl.span, "used here"))
            }
            None => return Err(self.unknown(decl, &names, &relative)),
        };
        if let Some(at) = self.stack.iter().position(|(id, _)| *id == found.identity) {
            return Err(self.cycle(decl, at));
        }
        if let Some(&index) = self.done.get(&found.identity) {
            return Ok(Some(self.modules.loaded[index].file));
        }
        let file = self.sources.add(found.display, found.text);
        let module = parse_module_file(self.sources.text(file), file, self.sources.name(file))
            .map_err(|diag| diag.with_secondary(decl.span, "used here"))?;
        self.stack.push((found.identity.clone(), file));
        let mut reaches = HashSet::new();
        for inner in uses(&module) {
            if let Some(used) = self.visit(inner)? {
                reaches.insert(used);
                let index = self.modules.loaded.iter().position(|l| l.file == used);
                if let Some(index) = index {
                    reaches.extend(self.modules.loaded[index].reaches.iter().copied());
                }
            }
        }
        self.stack.pop();
        self.done.insert(found.identity, self.modules.loaded.len());
        self.modules.loaded.push(Loaded {
            name: names.join("."),
            file,
            module,
            reaches,
        });
        Ok(Some(file))
    }

    fn visit_std(&mut self, decl: &UseDecl, names: &[&str]) -> Result<(), Diagnostic> {
        if let [_, target] = names {
            if embedded_targets().any(|t| t == *target) {
                if !self.modules.std_targets.iter().any(|t| t == target) {
                    self.modules.std_targets.push(target.to_string());
                }
                return Ok(());
            }
        }
        let wanted = names.get(1..).unwrap_or_default().join(".");
        let diag = Diagnostic::error(
            codes::UNKNOWN_MODULE,
            format!("the stdlib has no module `{}`", names.join(".")),
        )
        .with_primary(decl.span, "no such stdlib module");
        let known: Vec<&str> = embedded_targets().collect();
        // A near name is the likely fix; else the whole (short) list of stdlib modules.
        Err(
            match nearest_names(&wanted, known.iter().copied(), 1).first() {
                Some(near) => diag.with_note(format!("did you mean `std.{near}`?")),
                None => diag.with_note(format!(
                    "stdlib modules: {}",
                    known
                        .iter()
                        .map(|t| format!("std.{t}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        )
    }

    /// E0119: no search root has the file; the nearest names and the directories searched.
    fn unknown(&self, decl: &UseDecl, names: &[&str], relative: &str) -> Diagnostic {
        let wanted = names.join(".");
        let roots = self.files.roots();
        let mut known: Vec<String> = roots
            .iter()
            .flat_map(|root| self.files.names_under(root))
            .collect();
        known.extend(embedded_targets().map(|t| format!("std.{t}")));
        let near = nearest_names(&wanted, known.iter().map(String::as_str), 3);
        let mut diag = Diagnostic::error(codes::UNKNOWN_MODULE, format!("no module `{wanted}`"))
            .with_primary(decl.span, format!("no {relative} found"));
        if !near.is_empty() {
            let near: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
            diag = diag.with_note(format!("did you mean {}?", near.join(" or ")));
        }
        diag.with_note(format!(
            "looked for {relative} in: {}",
            if roots.is_empty() {
                "(no search directories)".to_string()
            } else {
                roots.join(", ")
            }
        ))
    }

    /// E0120: the module found is on the stack at `at`: the cycle runs from there to `decl`.
    fn cycle(&self, decl: &UseDecl, at: usize) -> Diagnostic {
        let chain: Vec<&str> = self.stack[at..]
            .iter()
            .map(|(_, file)| self.sources.name(*file))
            .chain([self.sources.name(self.stack[at].1)])
            .collect();
        Diagnostic::error(codes::MODULE_CYCLE, "modules use each other in a cycle")
            .with_primary(decl.span, "this closes the cycle")
            .with_note(chain.join(" uses "))
            .with_note(
                "move the columns they share into a module of their own, which uses none of them",
            )
    }
}

impl Modules {
    /// Adds the used modules' `column` and `defaults` items to `lib` (each module after the
    /// modules it uses), then the query file's own, which replace any of the same name.
    pub fn apply(&self, lib: &mut Stdlib, root: &Module) -> Result<(), Diagnostic> {
        let owner: HashMap<FileId, &Loaded> = self.loaded.iter().map(|l| (l.file, l)).collect();
        // What the query file defines itself replaces the modules' definitions: no clash.
        let settled: HashSet<(String, Option<String>)> =
            root.items.iter().filter_map(defined_name).collect();
        for loaded in &self.loaded {
            for item in &loaded.module.items {
                let (earlier, what, span) = match item {
                    Item::Column(decl) => (
                        lib.column(&decl.target.name, &decl.name.name)
                            .map(|c| c.span),
                        format!("column `{}.{}`", decl.target.name, decl.name.name),
                        decl.span,
                    ),
                    Item::Defaults(decl) => (
                        lib.defaults_span(&decl.target.name),
                        format!("`defaults {}`", decl.target.name),
                        decl.span,
                    ),
                    _ => continue,
                };
                if let Some(earlier) = earlier
                    .filter(|_| defined_name(item).is_some_and(|name| !settled.contains(&name)))
                {
                    let clash = earlier.file != loaded.file
                        && owner.contains_key(&earlier.file)
                        && !loaded.reaches.contains(&earlier.file);
                    if clash {
                        return Err(Diagnostic::error(
                            codes::DUPLICATE_DEFINITION,
                            format!("two modules define {what}"),
                        )
                        .with_primary(span, "defined here")
                        .with_secondary(earlier, "and here")
                        .with_note("neither module uses the other, so neither definition wins")
                        .with_note(
                            "define it in the query file itself (its definitions win), or drop one `use`",
                        ));
                    }
                }
                lib.define(item.clone());
            }
        }
        // Only definitions: cloning the file's queries would make `check` of a file of many
        // queries quadratic.
        for item in root
            .items
            .iter()
            .filter(|item| defined_name(item).is_some())
        {
            lib.define(item.clone());
        }
        Ok(())
    }

    /// The used module `name` (`net.ports`, as a `use` spells it) and its file, for running
    /// one of its queries.
    pub fn module(&self, name: &str) -> Option<(&Module, FileId)> {
        self.loaded
            .iter()
            .find(|l| l.name == name)
            .map(|l| (&l.module, l.file))
    }

    /// The files of the used modules, in the order their definitions apply.
    pub fn files(&self) -> impl Iterator<Item = FileId> + '_ {
        self.loaded.iter().map(|l| l.file)
    }

    /// The names of the used modules, in load order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.loaded.iter().map(|l| l.name.as_str())
    }

    /// How many module files were loaded.
    pub fn len(&self) -> usize {
        self.loaded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
    }
}

/// What a `column` (target and name) or `defaults` (target) item defines.
fn defined_name(item: &Item) -> Option<(String, Option<String>)> {
    match item {
        Item::Column(decl) => Some((decl.target.name.clone(), Some(decl.name.name.clone()))),
        Item::Defaults(decl) => Some((decl.target.name.clone(), None)),
        _ => None,
    }
}
