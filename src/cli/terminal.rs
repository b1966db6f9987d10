//! CLI: what bpfq's standard output is connected to. Guarantees a width only for a terminal,
//! so piped and redirected output is never cut.

use super::args::{Format, OutputArgs};
use std::io::IsTerminal;
use std::os::fd::AsFd;

/// Used when a terminal reports no size and `$COLUMNS` is unset (a serial console).
const FALLBACK_COLUMNS: usize = 80;

/// Whether standard output is a terminal (a person is reading).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// The width a table must fit in: the terminal's (TIOCGWINSZ, else `$COLUMNS`) for a table on a
/// terminal without `--wide`; `None` (never cut) otherwise.
pub fn table_width(output: &OutputArgs) -> Option<usize> {
    if output.output != Format::Table || output.wide || !stdout_is_terminal() {
        return None;
    }
    let stdout = std::io::stdout();
    let from_terminal = bpfq_runtime::sys::terminal_columns(stdout.as_fd()).map(usize::from);
    let from_env = || {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0)
    };
    Some(from_terminal.or_else(from_env).unwrap_or(FALLBACK_COLUMNS))
}
