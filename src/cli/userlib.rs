//! CLI: the user's stdlib extensions — every `*.bpfq` file in the directories of `$BPFQ_PATH`
//! (colon-separated) and in `~/.config/bpfq/`. Their columns add to, or override, the embedded
//! stdlib's.

use super::Failure;
use std::path::PathBuf;

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

/// (display path, text) of every user stdlib file, in search-path order, sorted within a dir.
pub fn user_files() -> Result<Vec<(String, String)>, Failure> {
    let mut files = Vec::new();
    for dir in search_path() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "bpfq"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Failure::Usage(format!("cannot read stdlib file {}: {e}", path.display()))
            })?;
            files.push((path.display().to_string(), text));
        }
    }
    Ok(files)
}
