//! CLI: the command-line grammar (clap). Only declarations; behaviour lives in the subcommands.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "bpfq",
    version,
    about = "Query live Linux kernel data structures; each query compiles to a BPF iterator program",
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  bpfq 'from task select pid, tgid, comm'\n  bpfq 'from task select pid, comm where pid == 1234' -o json\n  bpfq --watch 2 --count 5 'from tcp select src, sport, dst, dport, state'\n  bpfq --timings 'from task select pid, comm'\n  bpfq explain 'from task select pid, comm where tgid == 42'\n  bpfq targets\n  source <(bpfq completions bash)\n\nExit codes:\n  0  success\n  1  runtime error: the kernel refused (missing capabilities, verifier), a read failed\n  2  usage or compile error: bad arguments, query, query file, parameter or BTF file"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The query to run, e.g. 'from task select pid, comm where comm == "bash"' (several words
    /// are joined with spaces, so simple queries need no quotes).
    pub query: Vec<String>,
    /// Read the query from a file (`--` comments allowed).
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "query")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// How a query is run: once, or again and again.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Print to stderr how long each stage took: BTF open, stdlib, compile stages, load
    /// (verifier), attach, iterator create, read, format.
    #[arg(long)]
    pub timings: bool,
    /// Run the query again every SECS seconds (the program stays loaded); on a terminal the
    /// screen is redrawn, piped result sets are separated by an empty line.
    #[arg(long, value_name = "SECS", value_parser = parse_interval)]
    pub watch: Option<f64>,
    /// Stop after N runs (with --watch; alone it runs every 2 seconds).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
}

fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!(
            "expected a number of seconds above 0 (at most 86400), e.g. 2 or 0.5; got `{text}`"
        )),
    }
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Common {
    /// Value for a `$name` in the query: --param name=value (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", global = true)]
    pub params: Vec<String>,
    /// Use this BTF file (raw or .xz) instead of the running kernel's; compile-only commands.
    #[arg(long, value_name = "FILE", global = true)]
    pub btf: Option<PathBuf>,
    /// The shape of the map a map-element query names, instead of looking it up on this machine
    /// (compile-only commands): TYPE:KEY_SIZE:VALUE_SIZE, e.g. hash:4:8.
    #[arg(long, value_name = "TYPE:KEY:VALUE", global = true)]
    pub map_shape: Option<String>,
    /// Show the full verifier log when the kernel refuses a program, and how rows were read.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// First ring buffer size for targets read through one (unix); doubled while it fills up.
    /// Default: estimated from the kernel's count of the target's objects.
    #[arg(long, value_name = "BYTES", global = true)]
    pub ring_size: Option<u64>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
    /// Leave out the header line.
    #[arg(long, global = true)]
    pub no_header: bool,
    /// Print kernel addresses as they are (hidden by default, like %p).
    #[arg(long, global = true)]
    pub show_kptrs: bool,
    /// On a terminal, never cut long text to fit its width (piped output is never cut).
    #[arg(long, global = true)]
    pub wide: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Tsv,
    Json,
    Jsonl,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a query kept in a file; a file may hold several named queries and typed parameters.
    #[command(
        after_help = "A query file:\n  -- listeners.bpfq\n  param port: u16 = 22;\n  query listening = from tcp select src, sport where state == LISTEN;\n  query on_port = from tcp select src, sport, dst, dport where sport == $port;\n\nExamples:\n  bpfq run listeners.bpfq listening\n  bpfq run listeners.bpfq on_port --param port=443 -o json\n  bpfq run examples/ps.bpfq"
    )]
    Run {
        /// The query file.
        file: PathBuf,
        /// Which `query NAME = ...` to run; may be left out when the file holds one query.
        name: Option<String>,
        #[command(flatten)]
        how: RunArgs,
    },
    /// Show how a query runs: plan, IR, BPF listing and row layout (nothing is loaded).
    #[command(
        after_help = "Example:\n  bpfq explain 'from task select pid, comm where tgid == 42'"
    )]
    Explain {
        /// The query to explain.
        query: String,
    },
    /// Show a target's stdlib columns and context fields, or the members behind a path.
    #[command(
        after_help = "Examples:\n  bpfq describe task\n  bpfq describe task.mm\n  bpfq describe task.real_parent.cred"
    )]
    Describe {
        /// A target (`task`) or a path into it (`task.mm`).
        what: String,
    },
    /// Compile query files without running them (non-zero exit on any error): CI for queries in git.
    #[command(
        after_help = "Examples:\n  bpfq check examples/*.bpfq\n  bpfq check --btf linux-5.10.btf.xz examples/*.bpfq"
    )]
    Check {
        /// Query files (one query each).
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// List the BPF iterator targets this kernel offers, with their context structs.
    #[command(after_help = "Examples:\n  bpfq targets\n  bpfq targets --btf linux-5.10.btf.xz")]
    Targets,
    /// Print a shell completion script: targets, columns and field paths complete from the
    /// running kernel's BTF (bash, zsh, fish; elvish and powershell get options only).
    #[command(
        after_help = "Examples:\n  source <(bpfq completions bash)      # in ~/.bashrc\n  bpfq completions zsh > ~/.zfunc/_bpfq\n  bpfq completions fish | source"
    )]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): of bpfq, or of one subcommand (`bpfq-explain(1)`).
    #[command(
        after_help = "Examples:\n  bpfq man > bpfq.1 && man -l bpfq.1\n  bpfq man explain | man -l -"
    )]
    Man {
        /// A subcommand whose page to print instead.
        subcommand: Option<String>,
    },
    /// The completion engine the scripts call: candidates for word CWORD of WORDS, one a line.
    #[command(name = "__complete", hide = true)]
    Complete {
        /// Index in WORDS of the word being completed.
        cword: usize,
        /// The command line's words, the program name first.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}
