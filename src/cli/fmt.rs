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
    let mut stdout = std::io::stdout().lock();
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
        let result = match mode {
            Mode::Print => stdout.write_all(formatted.as_bytes()),
            Mode::Write if is_stdin => stdout.write_all(formatted.as_bytes()),
            Mode::Write if formatted != text => std::fs::write(path, &formatted),
            Mode::Write => Ok(()),
            Mode::Check => {
                if let Some(report) = first_difference(&name, &text, &formatted) {
                    not_canonical += 1;
                    stdout.write_all(report.as_bytes())
                } else {
                    Ok(())
                }
            }
        };
        if let Err(e) = result {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            Failure::Usage(format!("cannot write {name}: {e}")).report();
            failed += 1;
        }
    }
    let _ = stdout.flush();
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
        let limit = bpfq_kernel::input::MAX_SOURCE_BYTES;
        let text = bpfq_kernel::input::read_stream_text(std::io::stdin(), limit)
            .map_err(|e| Failure::Usage(format!("cannot read standard input: {e}")))?;
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
