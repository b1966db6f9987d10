//! CLI: the user's stdlib extensions — every `*.bpfq` file at the top of the directories of
//! `$BPFQ_PATH` (colon-separated) and of `~/.config/bpfq/`, loaded for every query with the
//! modules it `use`s; their columns add to, or override, the embedded stdlib's — and the module
//! files `use` names, found under the query file's directory, then the same directories
//! (`DiskModules`). Guarantee: every directory and file read here, and every parent up to `/`,
//! passes `bpfq_runtime::trust::check` (owned by root or the running user, not writable by
//! others) or the command stops with E0310; a file that is not UTF-8 is E0020, never quoted.
//! A query file named on the command line is not checked (the user chose it); the modules it
//! `use`s are, wherever they are found.

use super::Failure;
use bpfq_compiler::diagnostic::Sources;
use super::source_file::{read_source, read_text};
use bpfq_compiler::modules::{resolve, FoundFile, ModuleFiles, ReadFailure};
use bpfq_compiler::syntax::parse_module;
use bpfq_runtime::trust;
use std::path::{Path, PathBuf};

fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("BPFQ_PATH")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".config/bpfq"));
    }
    dirs
}

/// (display path, text) of every user stdlib file, in search-path order, sorted within a dir;
/// the modules a file `use`s come just before it (each file once, where first needed).
pub fn user_files() -> Result<Vec<(String, String)>, Failure> {
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for dir in search_path() {
        if !trusted(&dir)? {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "bpfq"))
            .collect();
        paths.sort();
        for path in paths {
            if !trusted(&path)? {
                continue;
            }
            let text = read_source(&path, "stdlib file")?;
            for (identity, display, text) in used_by(&path, &text)? {
                if seen.insert(identity) {
                    files.push((display, text));
                }
            }
            if seen.insert(identity(&path)) {
                files.push((path.display().to_string(), text));
            }
        }
    }
    Ok(files)
}

/// Whether to read `path`: `trust::check` accepts it (E0310 if it does not), or `false` when
/// it cannot be reached at all (missing, or under a directory this user may not search, such as
/// another user's `$HOME`), which is skipped as before.
fn trusted(path: &Path) -> Result<bool, Failure> {
    match trust::check(path) {
        Ok(()) => Ok(true),
        Err(untrusted) if untrusted.io_error().is_some() => Ok(false),
        Err(untrusted) => Err(Failure::Compile(
            Box::new(untrusted.diagnostic()),
            Box::default(),
        )),
    }
}

/// The modules the user file at `path` uses, in the order they apply: (identity, display,
/// text). A file that does not parse uses nothing here: the stdlib loader reports its error.
fn used_by(path: &Path, text: &str) -> Result<Vec<(String, String, String)>, Failure> {
    let mut sources = Sources::new();
    let file = sources.add(path.display().to_string(), text);
    let Ok(module) = parse_module(text, file) else {
        return Ok(Vec::new());
    };
    let files = DiskModules {
        roots: search_path(),
    };
    match resolve(&module, file, &identity(path), &files, &mut sources) {
        Ok(modules) => Ok(modules
            .files()
            .map(|f| {
                let name = sources.name(f).to_string();
                (
                    identity(Path::new(&name)),
                    name,
                    sources.text(f).to_string(),
                )
            })
            .collect()),
        Err(diag) => Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    }
}

/// Module files on disk, searched for under the query file's directory, then the user's
/// search path.
pub struct DiskModules {
    roots: Vec<PathBuf>,
}

impl DiskModules {
    /// The search roots of the query file at `query_file`.
    pub fn for_file(query_file: &Path) -> DiskModules {
        let own = match query_file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut roots = vec![own];
        roots.extend(search_path());
        DiskModules { roots }
    }
}

/// A file's identity: its canonical path (the path as given if it has none).
pub fn identity(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

impl ModuleFiles for DiskModules {
    fn roots(&self) -> Vec<String> {
        self.roots.iter().map(|r| r.display().to_string()).collect()
    }

    fn read(&self, root: &str, relative: &str) -> Option<Result<FoundFile, ReadFailure>> {
        // The query file's own directory is shown as `.` when it was named without one.
        let path = match root {
            "." => PathBuf::from(relative),
            _ => Path::new(root).join(relative),
        };
        match trust::check(&path) {
            Ok(()) => {}
            Err(untrusted) if untrusted.is_missing() => return None,
            Err(untrusted) if untrusted.io_error().is_some() => {
                return Some(Err(ReadFailure::Unreadable(untrusted.to_string())))
            }
            Err(untrusted) => {
                return Some(Err(ReadFailure::Untrusted {
                    why: untrusted.to_string(),
                    help: untrusted.fix(),
                }))
            }
        }
        Some(read_text(&path).map(|text| FoundFile {
            identity: identity(&path),
            display: path.display().to_string(),
            text,
        }))
    }

    fn names_under(&self, root: &str) -> Vec<String> {
        let (mut names, mut budget) = (Vec::new(), ENTRY_BUDGET);
        collect_names(Path::new(root), &mut Vec::new(), &mut names, &mut budget);
        names.sort();
        names
    }
}

/// Deep enough for `a.b.c`; a budget of directory entries keeps a huge tree (a home directory)
/// from slowing an error message down.
const NAME_DEPTH: usize = 3;
const ENTRY_BUDGET: usize = 5000;

/// Module names of the `.bpfq` files under `dir`, each part a name `use` can spell; `budget`
/// counts down the entries looked at.
fn collect_names(
    dir: &Path,
    prefix: &mut Vec<String>,
    names: &mut Vec<String>,
    budget: &mut usize,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path();
        if let Some(stem) = name.strip_suffix(".bpfq") {
            if is_name(stem) && path.is_file() {
                let mut parts = prefix.clone();
                parts.push(stem.to_string());
                names.push(parts.join("."));
            }
        } else if is_name(&name) && prefix.len() + 1 < NAME_DEPTH && path.is_dir() {
            prefix.push(name);
            collect_names(&path, prefix, names, budget);
            prefix.pop();
        }
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
