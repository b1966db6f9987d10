//! The `bpfq` command: parses arguments and dispatches to one subcommand. Exit codes: 0 success
//! (also when the reader of the output went away: a closed pipe ends a command quietly), 1
//! runtime error (kernel refused, read failed, output cannot be written), 2 usage or compile
//! error.

#![forbid(unsafe_code)]
// Every output goes through `cli::output`, which turns a failed write into an exit code.
#![deny(clippy::print_stdout)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::install_panic_report();
    let argv = cli::args::compile_output_alias(std::env::args_os().collect());
    match cli::parse_and_dispatch(argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
}
