//! CLI: the command-line grammar (clap). Only declarations; behaviour lives in the subcommands.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "bpfq",
    version,
    about = "Query live Linux kernel data structures; each query compiles to a BPF iterator program",
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  bpfq 'from task select pid, tgid, comm'\n  bpfq 'from task select pid, comm where pid == 1234' -o json\n  bpfq explain 'from task select pid, comm where tgid == 42'\n  bpfq targets"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The query to run, e.g. 'from task select pid, comm where comm == "bash"'.
    pub query: Option<String>,
    /// Read the query from a file (`--` comments allowed).
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "query")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Common {
    /// Value for a `$name` in the query: --param name=value (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", global = true)]
    pub params: Vec<String>,
    /// Use this BTF file (raw or .xz) instead of the running kernel's; compile-only commands.
    #[arg(long, value_name = "FILE", global = true)]
    pub btf: Option<PathBuf>,
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
}
