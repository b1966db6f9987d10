//! CLI: the one way to standard output. Guarantees every subcommand writes through this module
//! (the crate denies `print!`/`println!`): a reader that went away (EPIPE, `bpfq ... | head -1`)
//! ends the command quietly with exit 0; any other failed write (a full disk, an I/O error) is
//! E0905 "cannot write output: REASON", exit 1, and so is a standard output that was closed
//! before bpfq started (`bpfq ... >&-`), reported before anything runs.

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::Diagnostic;
use bpfq_runtime::execute::RunError;
use bpfq_runtime::format::{new_sink, FormatOptions, KeySource, PointerKey, RowSink};
use bpfq_runtime::notes::{Note, NoteLevel, NoteSink, Notes};

use super::args::OutputArgs;
use super::Failure;

/// Standard output, buffered: callers write, then `finish`.
pub type Stdout = io::BufWriter<io::StdoutLock<'static>>;

/// Standard output behind a 64 KiB buffer (sinks hand it 64 KiB at a time).
pub fn stdout() -> Stdout {
    io::BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// Fails when standard output was closed at start: its writes would vanish (the standard
/// library reopens a closed fd 1 on /dev/null).
pub fn check_open() -> Result<(), Failure> {
    if bpfq_runtime::sys::stdout_closed_at_start() {
        return Err(refused(
            "cannot write output: standard output is closed".into(),
        ));
    }
    Ok(())
}

/// What a failed write to standard output means for the command.
pub fn write_failure(err: io::Error) -> Failure {
    if err.kind() == io::ErrorKind::BrokenPipe {
        return Failure::OutputClosed;
    }
    refused(format!("cannot write output: {}", reason(&err)))
}

fn refused(message: String) -> Failure {
    Failure::Refused(Box::new(Diagnostic::error(codes::OUTPUT_FAILED, message)))
}

/// The system's words for `err`, without the " (os error N)" the standard library adds.
fn reason(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Writes `text` to standard output and flushes it.
pub fn print(text: &[u8]) -> Result<(), Failure> {
    let mut out = stdout();
    out.write_all(text).map_err(write_failure)?;
    finish(out)
}

/// Writes one line (a check's verdict, with a file name) to standard output now, so that it
/// comes before any message that follows it on standard error; control characters escaped.
pub fn line(text: &str) -> Result<(), Failure> {
    print(format!("{}\n", bpfq_compiler::hidden::visible_lines(text)).as_bytes())
}

/// One line of a long-running command's log (`bpfq serve`) on standard error, control
/// characters escaped: standard output stays free for what a command prints.
pub fn log(text: &str) {
    eprintln!("bpfq: {}", bpfq_compiler::hidden::visible_lines(text));
}

/// Flushes what `out` holds.
pub fn finish(mut out: Stdout) -> Result<(), Failure> {
    out.flush().map_err(write_failure)
}

/// A failure of running a query to standard output: a write is `write_failure`, the rest a
/// runtime error.
pub fn run_failure(err: RunError) -> Failure {
    match err {
        RunError::Write(err) => write_failure(err),
        RunError::Failed(text) => Failure::Runtime(text),
        RunError::Refused(diag) => Failure::Refused(diag),
    }
}

/// A run's notes on standard error, as `bpfq: TEXT` (`--verbose` details only with
/// `--verbose`) and `bpfq: warning: TEXT`.
pub fn run_notes(verbose: bool) -> NoteSink {
    struct Stderr {
        verbose: bool,
    }
    impl Notes for Stderr {
        fn note(&self, note: Note) {
            match note.level {
                NoteLevel::Warning => eprintln!("bpfq: warning: {}", note.text),
                NoteLevel::Verbose if self.verbose => eprintln!("bpfq: {}", note.text),
                NoteLevel::Verbose => {}
            }
        }
    }
    NoteSink::new(Arc::new(Stderr { verbose }))
}

/// The header, pointer and width options the user chose (hidden pointers with the boot's key).
pub fn format_options(output: &OutputArgs) -> FormatOptions {
    FormatOptions {
        header: !output.no_header,
        show_kptrs: output.show_kptrs,
        max_width: super::terminal::table_width(output),
        pointer_key: match output.show_kptrs {
            true => PointerKey::random().into(),
            false => KeySource::Deferred(boot_pointer_key),
        },
    }
}

/// The sink a query's rows go to: standard output in the chosen format with `options`.
pub fn row_sink(output: &OutputArgs, options: FormatOptions) -> Box<dyn RowSink> {
    new_sink(super::output_format(output), stdout(), options)
}

/// The key hiding this run's pointers: the boot's, so runs compare; else one for this run,
/// said once on standard error.
fn boot_pointer_key() -> PointerKey {
    static KEY: OnceLock<PointerKey> = OnceLock::new();
    *KEY.get_or_init(|| {
        let (key, note) = bpfq_runtime::boot_key::boot_pointer_key(Path::new(super::BOOT_DIR));
        if let Some(note) = note {
            eprintln!("note: {}", bpfq_compiler::hidden::visible_lines(&note));
        }
        key
    })
}

/// Rows of text cells under `columns` (each at most `width` bytes wide), in the format the
/// user chose: the tables of `targets` and `doctor`.
pub fn write_text_rows(
    columns: &[&str],
    width: u32,
    rows: impl IntoIterator<Item = Vec<String>>,
    output: &OutputArgs,
) -> Result<(), Failure> {
    use bpfq_compiler::layout::{ColumnKind, RowLayout};
    use bpfq_runtime::decode::Value;
    let layout = RowLayout::pack(
        columns
            .iter()
            .map(|name| (name.to_string(), ColumnKind::Chars { len: width }, false)),
    );
    let options = FormatOptions {
        header: !output.no_header,
        ..FormatOptions::default()
    };
    let mut out = stdout();
    let written = (|| -> io::Result<()> {
        let mut sink = new_sink(super::output_format(output), &mut out, options);
        sink.begin(&layout)?;
        for row in rows {
            let cells: Vec<Value> = row.into_iter().map(Value::Text).collect();
            sink.row(&cells)?;
        }
        sink.end()
    })();
    written.map_err(write_failure)?;
    finish(out)
}
