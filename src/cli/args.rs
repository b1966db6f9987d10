//! CLI: the command-line grammar (clap). Only declarations; behaviour lives in the subcommands.

use bpfq_compiler::codes;
use bpfq_compiler::group_place::MAX_ENTRIES;
use bpfq_runtime::ring_walk::MAX_RING;
use clap::{Parser, Subcommand, ValueEnum};
use std::ops::RangeInclusive;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "bpfq",
    version,
    about = "Query live Linux kernel data structures; each query compiles to a BPF iterator program",
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  bpfq 'from task select pid, tgid, comm'\n  bpfq 'from task select pid, comm where pid == 1234' -o json\n  bpfq --watch 2 --count 5 'from tcp select src, sport, dst, dport, state'\n  bpfq --watch 10 --changes --key pid -o jsonl 'from task select pid, comm'\n  bpfq --timings 'from task select pid, comm'\n  bpfq explain 'from task select pid, comm where tgid == 42'\n  bpfq targets\n  source <(bpfq completions bash)\n\nExit codes:\n  0  success (also when the reader of the output went away)\n  1  runtime error: the kernel refused (missing capabilities, verifier), a read failed, the output cannot be written\n  2  usage or compile error: bad arguments, query, query file, parameter or BTF file"
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
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,
    /// With --watch: print only what changed since the previous run, as a log (osquery's
    /// differential results). Each row starts with `action` (`snapshot` for every row of the
    /// first run, then `added`, `removed` or, with --key, `changed`), `time` (the run's start,
    /// RFC 3339 UTC) and `unix_time` (the same in seconds). With -o jsonl runs are not separated
    /// by empty lines: every line is one change.
    #[arg(long)]
    pub changes: bool,
    /// The columns that identify a row for --changes, e.g. --key pid or --key src,sport: a row
    /// whose key stays while other values change is one `changed` row with its new values.
    /// Default: all columns (a changed value is then a `removed` and an `added` row).
    #[arg(long, value_name = "COL,COL", requires = "changes")]
    pub key: Option<String>,
}

/// `bpfq compile QUERY -o q.o`, as compilers spell it: `-o` is the global output format
/// everywhere else (clap cannot give one short flag two meanings), so after `compile` a `-o` or
/// `--output` is read as `--object`.
pub fn compile_output_alias(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).and_then(|a| a.to_str()) != Some("compile") {
        return args;
    }
    args.into_iter()
        .map(|arg| match arg.to_str() {
            Some("-o") | Some("--output") => "--object".into(),
            Some(text) if text.starts_with("--output=") => {
                format!("--object={}", &text["--output=".len()..]).into()
            }
            _ => arg,
        })
        .collect()
}

const SERVE_HELP: &str = "A metric file:\n  --- TCP sockets by state.\n  metric tcp_sockets = from tcp select state, count(*) as sockets group by state;\n\nThe `group by` keys become labels, each aggregate a sample; `metric NAME: counter = ...`\nfor a counter (gauge by default); the `---` doc comment is the HELP text.\n\nExamples:\n  bpfq serve examples/serve\n  bpfq serve --listen 127.0.0.1:9436 /etc/bpfq/serve.d\n  curl -s 127.0.0.1:9436/metrics";

const PIN_EXAMPLES: &str = "Examples:\n  bpfq pin 'from task select pid, comm' /sys/fs/bpf/tasks && cat /sys/fs/bpf/tasks\n  bpfq pin --mode 0644 'from tcp select src, sport, state' /sys/fs/bpf/tcp\n  bpfq unpin /sys/fs/bpf/tasks\n\nNo order by, limit, group by or joins (they run in user space), and no unix (its rows need a ring buffer).";

/// `bpfq pin --help`: the examples, then how the kernel's text differs from `-o tsv`.
fn pin_long_help() -> String {
    format!(
        "{PIN_EXAMPLES}\n\nThe text differs from -o tsv: {}.",
        bpfq_compiler::lower::TEXT_DIFFERENCES
    )
}

fn parse_mode(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text, 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(format!(
            "expected an octal file mode such as 0600 or 644; got `{text}`"
        )),
    }
}

fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!(
            "[{}] expected a number of seconds above 0 (at most 86400), e.g. 2 or 0.5",
            codes::OPTION_OUT_OF_RANGE
        )),
    }
}

/// A whole number in `range`, else E0023 naming the range (`what`: the unit, plural).
fn parse_bounded(text: &str, range: RangeInclusive<u64>, what: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "[{}] expected {what} from {} to {}",
            codes::OPTION_OUT_OF_RANGE,
            range.start(),
            range.end()
        )),
    }
}

/// `--count`: at least one run.
fn parse_count(text: &str) -> Result<u64, String> {
    parse_bounded(text, 1..=u64::MAX, "a number of runs")
}

/// `--ring-size`: up to the largest ring bpfq creates (rounded up to a power of two and a page).
fn parse_ring_size(text: &str) -> Result<u64, String> {
    parse_bounded(text, 1..=MAX_RING, "a number of bytes")
}

/// `--group-entries`: up to the largest group map bpfq creates.
fn parse_group_entries(text: &str) -> Result<u32, String> {
    let entries = parse_bounded(text, 1..=u64::from(MAX_ENTRIES), "a number of entries")?;
    u32::try_from(entries).map_err(|e| e.to_string())
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Common {
    /// Value for a `$name` in the query: --param name=value (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", global = true)]
    pub params: Vec<String>,
    /// Most row combinations a join holds in memory at once (those of every join step but the
    /// last, whose rows stream out; all result rows with `order by`).
    #[arg(long, value_name = "N", global = true, default_value_t = bpfq_runtime::join::DEFAULT_MAX_HELD)]
    pub max_join_rows: usize,
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
    #[arg(long, value_name = "BYTES", global = true, value_parser = parse_ring_size)]
    pub ring_size: Option<u64>,
    /// Where a grouped query groups: `auto` (in the kernel when the keys and aggregates allow
    /// it) or `user` (always in user space). Hidden: for comparing both paths.
    #[arg(long, value_enum, default_value_t = GroupIn::Auto, global = true, hide = true)]
    pub group_in: GroupIn,
    /// Plan as on a kernel that refuses map-element programs, even where this one loads them:
    /// `bpf_map_elem` rows from user space (the map syscalls), `bpf_sk_storage_map` and
    /// `sockmap` rows from the socket iterators. Hidden: for comparing both paths.
    #[arg(long, global = true, hide = true)]
    pub map_walk: bool,
    /// Plan as on a kernel without this fact of `bpfq doctor`'s feature list (repeatable), e.g.
    /// `d_path_in_iter` for the dentry walk that replaces `bpf_d_path`. Hidden: for comparing
    /// both paths.
    #[arg(long, value_name = "FEATURE", global = true, hide = true)]
    pub assume_kernel_lacks: Vec<String>,
    /// Entries of the first kernel group map (doubled while it fills up). Hidden: for tests.
    #[arg(long, value_name = "N", global = true, hide = true, value_parser = parse_group_entries)]
    pub group_entries: Option<u32>,
}

/// Where a grouped query groups (`--group-in`).
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupIn {
    #[default]
    Auto,
    User,
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
        after_help = "A query file:\n  -- listeners.bpfq\n  use net.extra;           -- columns of net/extra.bpfq (beside the file, $BPFQ_PATH, ~/.config/bpfq)\n  param port: u16 = 22;\n  query listening = from tcp select src, sport where state == LISTEN;\n  query on_port = from tcp select src, sport, dst, dport where sport == $port;\n\nExamples:\n  bpfq run listeners.bpfq listening\n  bpfq run listeners.bpfq on_port --param port=443 -o json\n  bpfq run examples/ps.bpfq"
    )]
    Run {
        /// The query file.
        file: PathBuf,
        /// Which `query NAME = ...` to run; may be left out when the file holds one query.
        /// `MODULE.NAME` (`net.ports.listeners`) runs a query of a module the file `use`s.
        name: Option<String>,
        #[command(flatten)]
        how: RunArgs,
    },
    /// Show how a query runs: plan, IR, BPF listing and row layout (nothing is loaded).
    #[command(
        after_help = "Examples:\n  bpfq explain 'from task select pid, comm where tgid == 42'\n  bpfq explain -f examples/sockets.bpfq on_port --param port=443"
    )]
    Explain {
        /// The query to explain; with -f, the name of one of the file's queries (left out when
        /// the file holds one query).
        #[arg(value_name = "QUERY", required_unless_present = "file")]
        query: Option<String>,
        /// Explain a query kept in a file, as `bpfq -f FILE` and `bpfq run FILE NAME` run it.
        #[arg(long, short = 'f', value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Show a target's stdlib columns and context fields, or the members behind a path.
    #[command(
        after_help = "Examples:\n  bpfq describe task\n  bpfq describe task.mm\n  bpfq describe task.real_parent.cred\n  bpfq describe functions"
    )]
    Describe {
        /// A target (`task`), a path into it (`task.mm`), or `functions`: every built-in
        /// function with its arguments, what it gives and where it runs.
        what: String,
    },
    /// Compile query files without running them (non-zero exit on any error): CI for queries in
    /// git. The modules they `use` are loaded too.
    #[command(
        after_help = "Examples:\n  bpfq check examples/*.bpfq\n  bpfq check --btf linux-5.10.btf.xz examples/*.bpfq"
    )]
    Check {
        /// Query files (each of their queries is compiled).
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Print query files in canonical form (idempotent, comments kept); `--check` for CI,
    /// `--write` to rewrite them. No file, or `-`, reads standard input.
    #[command(
        after_help = "Examples:\n  bpfq fmt examples/ps.bpfq\n  bpfq fmt --write ~/.config/bpfq/*.bpfq\n  bpfq fmt --check examples/*.bpfq stdlib/*.bpfq\n  echo 'FROM task SELECT pid' | bpfq fmt\n\nExit codes: 0 done (with --check: every file is canonical), 1 with --check: some file is\nnot (each is listed with its first differing line), 2 a file does not parse or cannot be\nread or written."
    )]
    Fmt {
        /// Query or stdlib files; `-` (or none) for standard input.
        files: Vec<PathBuf>,
        /// Print nothing but the files not in canonical form; exit 1 if there are any.
        #[arg(long, conflicts_with = "write")]
        check: bool,
        /// Rewrite the files in place (standard input is printed).
        #[arg(long, short = 'w')]
        write: bool,
    },
    /// List the BPF iterator targets this kernel offers, with their context structs.
    #[command(after_help = "Examples:\n  bpfq targets\n  bpfq targets --btf linux-5.10.btf.xz")]
    Targets,
    /// What this kernel and this process allow: kernel release, how BTF is read, lockdown,
    /// capabilities, memlock, bpffs, and for every target whether its programs load (the first
    /// thing to attach to a bug report).
    #[command(after_help = "Examples:\n  bpfq doctor\n  bpfq doctor -o json")]
    Doctor,
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
    /// Pin QUERY as a file in a BPF filesystem: `cat PATH` prints its rows as text (tab-separated,
    /// header line first), formatted by the kernel; the pin outlives bpfq.
    #[command(after_help = PIN_EXAMPLES, after_long_help = pin_long_help())]
    Pin {
        /// The query to pin.
        query: String,
        /// Where to pin it: a new file in a bpffs mount (e.g. /sys/fs/bpf/NAME).
        path: PathBuf,
        /// File mode of the pin, in octal.
        #[arg(long, value_name = "OCTAL", default_value = "0600", value_parser = parse_mode)]
        mode: u32,
    },
    /// Write QUERY as a BPF object file (ELF, section `iter/<target>`) that prints its rows as
    /// text, like `bpfq pin`, for libbpf tools: `bpftool iter pin q.o /sys/fs/bpf/NAME`.
    #[command(
        after_help = "Example:\n  bpfq compile 'from task select pid, comm' -o tasks.o\n  bpftool iter pin tasks.o /sys/fs/bpf/tasks && cat /sys/fs/bpf/tasks"
    )]
    Compile {
        /// The query to compile.
        query: String,
        /// The object file to write.
        /// The object file to write (`-o FILE` works too: see `compile_output_alias`).
        #[arg(long = "object", value_name = "FILE")]
        object: PathBuf,
    },
    /// Publish the `metric` items of query files to Prometheus over HTTP (/metrics, /healthz):
    /// each query is compiled and loaded at start and walks the kernel afresh at every scrape.
    #[command(after_help = SERVE_HELP)]
    Serve {
        /// Query files, or directories whose *.bpfq files are served.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Where to listen (loopback unless told otherwise).
        #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:9436")]
        listen: String,
        /// How long one run of one query may take before it is cut off (it then publishes
        /// nothing and counts in bpfq_query_errors_total{reason="timeout"}).
        #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_interval)]
        query_timeout: f64,
    },
    /// Remove a pinned query (`bpfq pin`): the kernel frees its program once no reader holds it.
    #[command(after_help = "Example:\n  bpfq unpin /sys/fs/bpf/tasks")]
    Unpin {
        /// The pinned file.
        path: PathBuf,
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
