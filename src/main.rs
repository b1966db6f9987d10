//! The `bpfq` command: parses arguments and dispatches to one subcommand. Exit codes: 0 success,
//! 1 runtime error (kernel refused, read failed), 2 usage or compile error.

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    cli::install_panic_report();
    let argv = cli::args::compile_output_alias(std::env::args_os().collect());
    let args = cli::args::Cli::parse_from(argv);
    match cli::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
}
