//! CLI: shared plumbing for the subcommands — opening BTF, loading the stdlib, compiling a
//! query, and turning every failure into a message plus an exit code.

pub mod args;
mod changes;
mod check_module;
mod complete;
mod doctor;
mod explain;
mod fmt;
mod input;
mod man;
mod output;
mod panic_report;
mod pin;
mod queryfile;
mod run;
mod serve;
mod targets;
mod terminal;
mod timings;
mod userlib;
mod watch;

use args::{Cli, Command};
use bpfq_compiler::bind::Params;
use bpfq_compiler::diagnostic::{Diagnostic, FileId, Sources};
use bpfq_compiler::hidden::visible_lines;
use bpfq_compiler::pipeline::{Compiled, CompiledQuery, Compiler, Input, Options};
use bpfq_compiler::plan::{GroupIn, Output};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::{Btf, KernelFeatures};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use std::io::IsTerminal;
use std::path::Path;

/// Reports any later panic as internal error E0903 (`panic_report`).
pub fn install_panic_report() {
    panic_report::install();
}

/// Where the running kernel publishes its BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Why a command failed.
pub enum Failure {
    /// A compile error, rendered against its sources (exit 2).
    Compile(Box<Diagnostic>, Box<Sources>),
    /// A usage error (exit 2).
    Usage(String),
    /// A runtime error: the kernel refused, a read failed (exit 1).
    Runtime(String),
    /// A coded refusal about no source text, such as an untrusted pin directory or output that
    /// cannot be written (exit 1).
    Refused(Box<Diagnostic>),
    /// The reader of the output went away: the command ends quietly (exit 0).
    OutputClosed,
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::OutputClosed => 0,
            Failure::Runtime(_) | Failure::Refused(_) => 1,
            Failure::Compile(..) | Failure::Usage(_) => 2,
        }
    }

    pub fn report(&self) {
        let empty = Sources::new();
        let (diag, sources) = match self {
            Failure::Compile(diag, sources) => (diag, &**sources),
            Failure::Refused(diag) => (diag, &empty),
            // Messages may quote paths and kernel text: control characters shown escaped.
            Failure::Usage(msg) | Failure::Runtime(msg) => {
                eprintln!("bpfq: {}", visible_lines(msg));
                return;
            }
            Failure::OutputClosed => return,
        };
        let choice = if std::io::stderr().is_terminal() {
            ColorChoice::Auto
        } else {
            ColorChoice::Never
        };
        let mut stderr = StandardStream::stderr(choice);
        if diag.render_to(sources, &mut stderr).is_err() {
            eprintln!("error[{}]: {}", diag.code, diag.message);
        }
    }
}

/// Parses `argv` and runs its command; `--help` and `--version` print through `output` too.
pub fn parse_and_dispatch(argv: Vec<std::ffi::OsString>) -> Result<(), Failure> {
    output::check_open()?;
    match <Cli as clap::Parser>::try_parse_from(argv) {
        Ok(cli) => dispatch(cli),
        Err(e) if e.use_stderr() => e.exit(),
        Err(e) => output::print(e.render().to_string().as_bytes()),
    }
}

pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    let joined = (!cli.query.is_empty()).then(|| cli.query.join(" "));
    match (&cli.command, joined.as_ref()) {
        (None, _) if cli.file.is_some() => {
            let path = cli.file.as_deref().unwrap_or(Path::new(""));
            queryfile::run_file(path, None, &cli.common, &cli.output, &cli.run)
        }
        (Some(Command::Run { file, name, how }), _) => {
            queryfile::run_file(file, name.as_deref(), &cli.common, &cli.output, how)
        }
        (Some(Command::Explain { query, file }), _) => match file {
            Some(file) => explain::explain_file(file, query.as_deref(), &cli.common),
            None => explain::explain(query.as_deref().unwrap_or_default(), &cli.common),
        },
        (Some(Command::Targets), _) => targets::targets(&cli.common, &cli.output),
        (Some(Command::Doctor), _) => doctor::doctor(&cli.common, &cli.output),
        (Some(Command::Describe { what }), _) => describe(what, &cli.common),
        (Some(Command::Check { files }), _) => check(files, &cli.common),
        (
            Some(Command::Fmt {
                files,
                check,
                write,
            }),
            _,
        ) => fmt::fmt(files, fmt::Mode::from_flags(*check, *write)),
        (Some(Command::Completions { shell }), _) => complete::print_script(*shell),
        (Some(Command::Man { subcommand }), _) => man::print_page(subcommand.as_deref()),
        (Some(Command::Complete { cword, words }), _) => complete::complete(*cword, words),
        (Some(Command::Pin { query, path, mode }), _) => pin::pin(query, path, *mode, &cli.common),
        (Some(Command::Unpin { path }), _) => pin::unpin(path),
        (
            Some(Command::Serve {
                paths,
                listen,
                query_timeout,
            }),
            _,
        ) => serve::serve(
            &serve::ServeArgs {
                paths,
                listen,
                budget: std::time::Duration::from_secs_f64(*query_timeout),
            },
            &cli.common,
        ),
        (Some(Command::Compile { query, object }), _) => {
            pin::compile_object(query, object, &cli.common)
        }
        (None, Some(query)) => run::run(query, &cli.common, &cli.output, &cli.run),
        (None, None) => Err(Failure::Usage(
            "no query given; try `bpfq 'from task select pid, comm'` or `bpfq --help`".into(),
        )),
    }
}

/// `bpfq check`: compiles every query of each file (each named query, or its only one)
/// against the BTF; reports every error, fails if any.
fn check(files: &[std::path::PathBuf], common: &args::Common) -> Result<(), Failure> {
    let kernel = open_kernel_probed(common.btf.as_deref())?;
    let mut failed = 0;
    let mut checked = 0;
    let mut claimed = std::collections::HashSet::new();
    for path in files {
        let mut sources = bpfq_compiler::diagnostic::Sources::new();
        let parsed = match queryfile::parse_file(path, &mut sources) {
            Ok(parsed) => parsed,
            Err(failure) => {
                output::line(&format!("FAILED  {}", path.display()))?;
                failure.report();
                failed += 1;
                checked += 1;
                continue;
            }
        };
        if check_module::is_module(path) {
            let (ok, failures) = check_module::check_module(path, common, &kernel)?;
            checked += ok + failures;
            failed += failures;
            continue;
        }
        // Parsed once for all its queries; each compile gets its own (cheap) copy of the sources.
        for name in queryfile::names_to_check(&parsed) {
            checked += 1;
            let shown = match &name {
                Some(name) => format!("{} {name}", path.display()),
                None => path.display().to_string(),
            };
            let mut timings = timings::Timings::new(false);
            let compiled = queryfile::compile_parsed(
                &parsed,
                sources.clone(),
                name.as_deref(),
                common,
                &kernel,
                &mut timings,
                Some(&mut claimed),
            );
            // A `metric` item is checked as `bpfq serve` takes it, too.
            let checked_metric = compiled.and_then(|(compiled, _)| {
                serve::check_metric(&parsed.module, name.as_deref(), &compiled, &sources)
            });
            match checked_metric {
                Ok(()) => output::line(&format!("ok      {shown}"))?,
                Err(failure) => {
                    output::line(&format!("FAILED  {shown}"))?;
                    failure.report();
                    failed += 1;
                }
            }
        }
    }
    if failed == 0 {
        unclaimed_params(files, common, &claimed)
    } else {
        Err(Failure::Usage(format!(
            "{failed} of {checked} queries did not compile"
        )))
    }
}

/// After a `check` that passed: E0022 for the first `--param` no checked file declares or uses,
/// with the names the files declare.
fn unclaimed_params(
    files: &[std::path::PathBuf],
    common: &args::Common,
    claimed: &std::collections::HashSet<String>,
) -> Result<(), Failure> {
    let mut sources = Sources::new();
    let given = queryfile::given_params(&common.params, &mut sources)?;
    let Some(unclaimed) = given.iter().find(|g| !claimed.contains(&g.name)) else {
        return Ok(());
    };
    let modules: Vec<_> = files
        .iter()
        .filter_map(|path| queryfile::parse_file(path, &mut Sources::new()).ok())
        .collect();
    let mut declared: Vec<&str> = modules
        .iter()
        .flat_map(|parsed| bpfq_compiler::queryfile::declared_params(&parsed.module))
        .collect();
    declared.sort_unstable();
    declared.dedup();
    let mut diag = Diagnostic::error(
        bpfq_compiler::codes::UNDECLARED_PARAM_GIVEN,
        format!("no checked query file has a parameter `{}`", unclaimed.name),
    )
    .with_primary(unclaimed.name_span, "declared by no file, used by no query");
    let near = bpfq_compiler::diagnostic::nearest_names(&unclaimed.name, declared.clone(), 1);
    if let Some(first) = near.first() {
        diag = diag.with_note(format!(
            "did you mean `{first}`? the files' parameters: {}",
            declared.join(", ")
        ));
    }
    Err(Failure::Compile(Box::new(diag), Box::new(sources)))
}

/// `bpfq describe`: columns, context fields and struct members, from BTF and the stdlib; the
/// running kernel's features settled by the probe, so a column's type is the one a run gets
/// (a `d_path` the kernel refuses is a dentry walk's `dentry_path`).
fn describe(what: &str, common: &args::Common) -> Result<(), Failure> {
    if what == "functions" {
        return output::print(bpfq_compiler::describe::functions().as_bytes());
    }
    let kernel = open_kernel_probed(common.btf.as_deref())?;
    let mut sources = Sources::new();
    let file = sources.add("<describe>", what);
    let target = what.split('.').next().unwrap_or(what).trim();
    let stdlib = match Stdlib::load_for(&mut sources, Some(target), &userlib::user_files()?) {
        Ok(lib) => lib,
        Err(diag) => return Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    };
    let compiler = Compiler::new(&kernel.btf, &kernel.features, &stdlib, &sources);
    match compiler.describe(file) {
        Ok(text) => output::print(text.as_bytes()),
        Err(diag) => Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    }
}

/// The kernel a query is compiled for: its BTF and what it lets a program do.
pub struct Kernel {
    pub btf: Btf,
    pub features: KernelFeatures,
    /// How the running kernel's BTF was read (None for a `--btf` file), for `bpfq doctor`.
    pub btf_read: Option<bpfq_runtime::sys::ReadMethod>,
}

/// The kernel to compile for: `--btf FILE`, else the running kernel's BTF (mmapped), with its
/// features derived from that BTF — the one place the CLI decides them.
pub fn open_kernel(btf: Option<&Path>) -> Result<Kernel, Failure> {
    let (opened, btf_read) = open_btf_read(btf)?;
    // Malformed before its markers: reported as `open_btf` reports a broken header.
    let features = KernelFeatures::from_btf(&opened).map_err(|e| match btf {
        Some(path) => Failure::Usage(format!("cannot read BTF file {}: {e}", path.display())),
        None => Failure::Runtime(format!("cannot parse {VMLINUX_BTF}: {e}")),
    })?;
    Ok(Kernel {
        btf: opened,
        features,
        btf_read,
    })
}

/// Where bpfq keeps what holds for one boot (a tmpfs): what the probe learnt of the running
/// kernel, and the key hiding pointers (`bpfq_runtime::boot_key`).
const BOOT_DIR: &str = "/run/bpfq";

/// `open_kernel`, and for the running kernel (no `--btf`) its features settled by the probe
/// (`probe::TRIALS`: one program load per fact BTF cannot tell, cached per boot): for commands
/// that load programs or say what would be loaded (run, pin, explain, check, doctor, describe).
pub fn open_kernel_probed(btf: Option<&Path>) -> Result<Kernel, Failure> {
    let mut kernel = open_kernel(btf)?;
    if btf.is_some() {
        return Ok(kernel);
    }
    let identity = bpfq_runtime::probe::btf_identity(kernel.btf.bytes());
    let from_btf = kernel.features.clone();
    let settled = bpfq_runtime::probe::settle(
        from_btf,
        &identity,
        Path::new(BOOT_DIR),
        &mut |trial, assumed| {
            kernel.features = assumed.clone();
            try_trial(trial, &kernel)
        },
    );
    kernel.features = settled;
    Ok(kernel)
}

/// Compiles a probe trial's query for `kernel` and asks the verifier.
fn try_trial(trial: &bpfq_runtime::probe::Trial, kernel: &Kernel) -> bpfq_runtime::probe::Outcome {
    use bpfq_runtime::{probe::Outcome, LoadError};
    let common = args::Common {
        map_shape: trial.map_shape.map(str::to_string),
        ..args::Common::default()
    };
    let Ok((CompiledQuery::Single(compiled), _)) = compile_query(trial.query, kernel, &common)
    else {
        // The target or its columns do not exist on this kernel: nothing to learn.
        return Outcome::Inconclusive;
    };
    match bpfq_runtime::probe::verifier_accepts(&compiled) {
        Ok(()) => Outcome::Accepted,
        Err(err @ (LoadError::Verifier { .. } | LoadError::Policy { .. })) => Outcome::Refused(err),
        // Missing capabilities, or a failure that says nothing of the kernel's rules.
        Err(_) => Outcome::Inconclusive,
    }
}

/// The BTF to compile against: `--btf FILE`, else the running kernel's (mmapped where sysfs
/// allows it, Linux 6.16+; read otherwise).
pub fn open_btf(btf: Option<&Path>) -> Result<Btf, Failure> {
    open_btf_read(btf).map(|(btf, _)| btf)
}

/// `open_btf`, and how the running kernel's BTF was read (mapped or read; None for a file).
fn open_btf_read(
    btf: Option<&Path>,
) -> Result<(Btf, Option<bpfq_runtime::sys::ReadMethod>), Failure> {
    match btf {
        Some(path) => Btf::from_file(path)
            .map(|btf| (btf, None))
            .map_err(|e| match e {
                // The reader's own I/O message already names the file.
                bpfq_kernel::BtfError::Io { .. } => Failure::Usage(e.to_string()),
                bpfq_kernel::BtfError::Refused(why) => input::failure(path, "BTF file", why),
                _ => Failure::Usage(format!("cannot read BTF file {}: {e}", path.display())),
            }),
        None => {
            let path = Path::new(VMLINUX_BTF);
            let map = bpfq_runtime::sys::mmap_readonly(path).map_err(|e| {
                Failure::Runtime(format!(
                    "cannot open the running kernel's BTF ({VMLINUX_BTF}: {e}); bpfq needs a kernel built with CONFIG_DEBUG_INFO_BTF, or --btf FILE for compile-only commands"
                ))
            })?;
            let method = map.method();
            Btf::from_shared(Box::new(map))
                .map(|btf| (btf, Some(method)))
                .map_err(|e| Failure::Runtime(format!("cannot parse {VMLINUX_BTF}: {e}")))
        }
    }
}

/// The runtime's output format for `-o`.
pub fn output_format(output: &args::OutputArgs) -> bpfq_runtime::format::OutputFormat {
    use bpfq_runtime::format::OutputFormat;
    match output.output {
        args::Format::Table => OutputFormat::Table,
        args::Format::Csv => OutputFormat::Csv,
        args::Format::Tsv => OutputFormat::Tsv,
        args::Format::Json => OutputFormat::Json,
        args::Format::Jsonl => OutputFormat::JsonLines,
    }
}

/// `--param name=value` pairs.
pub fn parse_params(params: &[String]) -> Result<Params, Failure> {
    params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                Ok((name.trim_start_matches('$').to_string(), value.to_string()))
            }
            _ => Err(Failure::Usage(format!(
                "--param expects NAME=VALUE, got `{p}`"
            ))),
        })
        .collect()
}

/// Compiles `query` for `kernel`; the sources are returned for later diagnostics.
pub fn compile_query(
    query: &str,
    kernel: &Kernel,
    common: &args::Common,
) -> Result<(CompiledQuery, Sources), Failure> {
    compile_query_timed(query, kernel, common, &mut timings::Timings::new(false))
}

/// `compile_query`, recording the stdlib load and each compiler stage in `timings`.
pub fn compile_query_timed(
    query: &str,
    kernel: &Kernel,
    common: &args::Common,
    timings: &mut timings::Timings,
) -> Result<(CompiledQuery, Sources), Failure> {
    compile_query_as(query, kernel, common, timings, Output::Rows)
}

/// Compiles single-source `query` to a program that prints its rows as text in the kernel
/// (`bpfq pin`, `bpfq compile`); the sources are returned for later diagnostics.
pub fn compile_text_query(
    query: &str,
    kernel: &Kernel,
    common: &args::Common,
) -> Result<(Compiled, Sources), Failure> {
    let (compiled, sources) = compile_query_as(
        query,
        kernel,
        common,
        &mut timings::Timings::new(false),
        Output::Text,
    )?;
    match compiled {
        CompiledQuery::Single(single) => Ok((*single, sources)),
        CompiledQuery::Join(_) => Err(Failure::Runtime(
            "internal error (this is a bug in bpfq): a text program of a join".into(),
        )),
    }
}

/// Parses the query, loads the stdlib it needs and compiles it to `output` (binary rows, or
/// text for `bpfq pin`); the sources are returned for later diagnostics.
fn compile_query_as(
    query: &str,
    kernel: &Kernel,
    common: &args::Common,
    timings: &mut timings::Timings,
    output: Output,
) -> Result<(CompiledQuery, Sources), Failure> {
    let params = parse_params(&common.params)?;
    let mut sources = Sources::new();
    let file: FileId = sources.add("<query>", query);
    // Only the target's stdlib file is parsed (every file for a join); a query that does not
    // parse gets its error here.
    let target = match bpfq_compiler::syntax::parse_query(query, file) {
        Ok(ast) if ast.joins.is_empty() => Some(ast.from.target.name),
        Ok(_) => None,
        Err(diag) => return Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    };
    let user_files = userlib::user_files()?;
    let stdlib = match timings.time("stdlib", || {
        Stdlib::load_for(&mut sources, target.as_deref(), &user_files)
    }) {
        Ok(lib) => lib,
        Err(diag) => return Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    };
    let maps = map_lookup(common)?;
    let features = features_for(kernel, common)?;
    let compiler = Compiler::new(&kernel.btf, &features, &stdlib, &sources)
        .with_params(&params)
        .with_maps(maps.as_ref());
    let compiled = compiler.compile(Input::File(file), options_for(common, output));
    timings.record_compile(&compiler.times());
    match compiled {
        Ok(compiled) => Ok((compiled, sources)),
        Err(diag) => Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    }
}

/// The compiler options of `common` (`--group-in`) for programs writing `output`.
pub(super) fn options_for(common: &args::Common, output: Output) -> Options {
    Options {
        output,
        group_in: match common.group_in {
            args::GroupIn::Auto => GroupIn::Auto,
            args::GroupIn::User => GroupIn::User,
        },
    }
}

/// The features to compile for: the kernel's, and with `--map-walk` as on a kernel that refuses
/// map-element programs (bpf_map_elem rows are then read from user space, bpf_sk_storage_map
/// and sockmap rows through the socket iterators), without each `--assume-kernel-lacks` fact.
pub(super) fn features_for(
    kernel: &Kernel,
    common: &args::Common,
) -> Result<KernelFeatures, Failure> {
    let mut features = kernel.features.clone();
    if common.map_walk {
        features.map_elem_programs = false;
        features.why.map_elem_programs = bpfq_kernel::Why::Given("--map-walk");
    }
    for name in &common.assume_kernel_lacks {
        let given = bpfq_kernel::Why::Given("--assume-kernel-lacks");
        if !features.set(name, false, given) {
            let known: Vec<&str> = features.facts().iter().map(|f| f.name).collect();
            return Err(Failure::Usage(format!(
                "--assume-kernel-lacks: no feature '{name}' (features: {})",
                known.join(", ")
            )));
        }
    }
    Ok(features)
}

/// Where map-element queries find their map: `--map-shape`, else the running kernel.
pub(super) fn map_lookup(
    common: &args::Common,
) -> Result<Box<dyn bpfq_compiler::maps::MapLookup>, Failure> {
    use bpfq_compiler::maps::{map_type_by_name, FixedMap, MapShape};
    let Some(text) = &common.map_shape else {
        return Ok(Box::new(bpfq_runtime::maps::LiveMaps));
    };
    let bad = || {
        Failure::Usage(format!(
            "--map-shape expects TYPE:KEY_SIZE:VALUE_SIZE (e.g. hash:4:8), got `{text}`"
        ))
    };
    let parts: Vec<&str> = text.split(':').collect();
    let [kind, key, value] = parts.as_slice() else {
        return Err(bad());
    };
    Ok(Box::new(FixedMap(MapShape {
        map_type: map_type_by_name(kind).ok_or_else(bad)?,
        key_size: key.parse().map_err(|_| bad())?,
        value_size: value.parse().map_err(|_| bad())?,
        name: String::new(),
        id: 0,
        possible_cpus: bpfq_runtime::maps::possible_cpus().unwrap_or(1),
    })))
}
