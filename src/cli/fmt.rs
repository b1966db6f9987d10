//! `bpfq fmt` (stage 2 and the formatter, `compiler/src/syntax/format/`): prints each query file
//! in canonical form, rewrites it (`--write`), or lists the files not in that form (`--check`).
//! A file that does not parse gets its coded diagnostic (exit 2) and is never written; the
//! formatter itself refuses output that would lose a comment or change the query.

use super::Failure;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::syntax::format_module;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Print,
    Write,
    Check,
}

impl Mode {
    pub fn from_flags(check: bool, write: bool) -> Mode {
        match (check, write) {
            (true, _) => Mode::Check,
            (false, true) => Mode::Write,
            (false, false) => Mode::Print,
        }
    }
}

pub fn fmt(files: &[PathBuf], mode: Mode) -> Result<(), Failure> {
    let stdin_only = [PathBuf::from("-")];
    let files = if files.is_empty() {
        &stdin_only[..]
    } else {
        files
    };
    let mut not_canonical = 0;
    let mut failed = 0;
    let mut stdout = super::output::stdout();
    for path in files {
        let is_stdin = path == Path::new("-");
        let (name, text) = match read(path, is_stdin) {
            Ok(read) => read,
            Err(failure) => {
                failure.report();
                failed += 1;
                continue;
            }
        };
        let mut sources = Sources::new();
        let file = sources.add(name.clone(), text.clone());
        let formatted = match format_module(&text, file) {
            Ok(formatted) => formatted,
            Err(diag) => {
                Failure::Compile(Box::new(diag), Box::new(sources)).report();
                failed += 1;
                continue;
            }
        };
        let to_stdout = match mode {
            Mode::Print => Some(formatted),
            Mode::Write if is_stdin => Some(formatted),
            Mode::Write if formatted != text => {
                if let Err(e) = std::fs::write(path, &formatted) {
                    Failure::Usage(format!("cannot write {name}: {e}")).report();
                    failed += 1;
                }
                None
            }
            Mode::Write => None,
            Mode::Check => first_difference(&name, &text, &formatted).inspect(|_| {
                not_canonical += 1;
            }),
        };
        if let Some(text) = to_stdout {
            stdout
                .write_all(text.as_bytes())
                .map_err(super::output::write_failure)?;
        }
    }
    super::output::finish(stdout)?;
    if failed > 0 {
        return Err(Failure::Usage(format!(
            "{failed} of {} files could not be formatted",
            files.len()
        )));
    }
    if not_canonical > 0 {
        return Err(Failure::Runtime(format!(
            "{not_canonical} of {} files are not in canonical form (`bpfq fmt --write` rewrites them)",
            files.len()
        )));
    }
    Ok(())
}

fn read(path: &Path, is_stdin: bool) -> Result<(String, String), Failure> {
    if is_stdin {
        let text = super::input::read_stream_source(std::io::stdin(), "standard input")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let text = super::input::read_source(path, "file")?;
    Ok((path.display().to_string(), text))
}

/// `FILE:LINE: not in canonical form` and the first line that differs, old then new.
fn first_difference(name: &str, text: &str, formatted: &str) -> Option<String> {
    if text == formatted {
        return None;
    }
    let mut old_lines = text.lines();
    let mut new_lines = formatted.lines();
    let mut number = 1;
    loop {
        match (old_lines.next(), new_lines.next()) {
            (Some(old), Some(new)) if old == new => number += 1,
            (old, new) => {
                let shown = |line: Option<&str>| {
                    line.map_or("(end of file)".to_string(), |l| format!("{l:?}"))
                };
                return Some(format!(
                    "{name}:{number}: not in canonical form\n  - {}\n  + {}\n",
                    shown(old),
                    shown(new)
                ));
            }
        }
    }
}
