//! CLI: shared plumbing for the subcommands — opening BTF, loading the stdlib, compiling a
//! query, and turning every failure into a message plus an exit code.

pub mod args;
mod explain;
mod run;
mod targets;
mod userlib;

use args::{Cli, Command};
use bpfq_compiler::bind::BindEnv;
use bpfq_compiler::diagnostic::{Diagnostic, FileId, Sources};
use bpfq_compiler::pipeline::{compile_query as compile_any, CompiledQuery};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;

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
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Runtime(_) => 1,
            Failure::Compile(..) | Failure::Usage(_) => 2,
        }
    }

    pub fn report(&self) {
        match self {
            Failure::Compile(diag, sources) => {
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
            Failure::Usage(msg) | Failure::Runtime(msg) => eprintln!("bpfq: {msg}"),
        }
    }
}

pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    let from_file = match &cli.file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!("cannot read query file {}: {e}", path.display()))
        })?),
        None => None,
    };
    match (&cli.command, cli.query.as_ref().or(from_file.as_ref())) {
        (Some(Command::Explain { query }), _) => explain::explain(query, &cli.common),
        (Some(Command::Targets), _) => targets::targets(&cli.common, &cli.output),
        (Some(Command::Describe { what }), _) => describe(what, &cli.common),
        (Some(Command::Check { files }), _) => check(files, &cli.common),
        (None, Some(query)) => run::run(query, &cli.common, &cli.output),
        (None, None) => Err(Failure::Usage(
            "no query given; try `bpfq 'from task select pid, comm'` or `bpfq --help`".into(),
        )),
    }
}

/// `bpfq check`: compiles each file against the BTF; reports every error, fails if any.
fn check(files: &[std::path::PathBuf], common: &args::Common) -> Result<(), Failure> {
    let btf = open_btf(common.btf.as_deref())?;
    let mut failed = 0;
    for path in files {
        let query = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("bpfq: cannot read {}: {e}", path.display());
                failed += 1;
                continue;
            }
        };
        match compile_query(&query, &btf, common) {
            Ok(_) => println!("ok      {}", path.display()),
            Err(failure) => {
                println!("FAILED  {}", path.display());
                failure.report();
                failed += 1;
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "{failed} of {} query files did not compile",
            files.len()
        )))
    }
}

/// `bpfq describe`: columns, context fields and struct members, from BTF and the stdlib.
fn describe(what: &str, common: &args::Common) -> Result<(), Failure> {
    let btf = open_btf(common.btf.as_deref())?;
    let params = HashMap::new();
    let mut sources = Sources::new();
    let file = sources.add("<describe>", what);
    let target = what.split('.').next().unwrap_or(what).trim();
    let stdlib = match Stdlib::load_for(&mut sources, Some(target), &userlib::user_files()?) {
        Ok(lib) => lib,
        Err(diag) => return Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    };
    let env = BindEnv {
        btf: &btf,
        stdlib: &stdlib,
        sources: &sources,
        params: &params,
    };
    match bpfq_compiler::describe::describe(&env, file) {
        Ok(text) => {
            print!("{text}");
            Ok(())
        }
        Err(diag) => Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    }
}

/// The BTF to compile against: `--btf FILE`, else the running kernel's (mmapped).
pub fn open_btf(btf: Option<&Path>) -> Result<Btf, Failure> {
    match btf {
        Some(path) => Btf::from_file(path)
            .map_err(|e| Failure::Usage(format!("cannot read BTF file {}: {e}", path.display()))),
        None => {
            let path = Path::new(VMLINUX_BTF);
            let map = bpfq_runtime::sys::mmap_readonly(path).map_err(|e| {
                Failure::Runtime(format!(
                    "cannot open the running kernel's BTF ({VMLINUX_BTF}: {e}); bpfq needs a kernel built with CONFIG_DEBUG_INFO_BTF, or --btf FILE for compile-only commands"
                ))
            })?;
            Btf::from_shared(Box::new(map))
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
pub fn parse_params(params: &[String]) -> Result<HashMap<String, String>, Failure> {
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

/// Compiles `query` against `btf`; the sources are returned for later diagnostics.
pub fn compile_query(
    query: &str,
    btf: &Btf,
    common: &args::Common,
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
    let stdlib = match Stdlib::load_for(&mut sources, target.as_deref(), &userlib::user_files()?) {
        Ok(lib) => lib,
        Err(diag) => return Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    };
    let env = BindEnv {
        btf,
        stdlib: &stdlib,
        sources: &sources,
        params: &params,
    };
    match compile_any(file, &env) {
        Ok(compiled) => Ok((compiled, sources)),
        Err(diag) => Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    }
}
