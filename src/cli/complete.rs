//! CLI: shell completion. `bpfq completions SHELL` prints a script; the script calls the hidden
//! `bpfq __complete CWORD WORDS...`, which answers from the command line so far: options,
//! subcommands, `-o` formats, and inside a query the compiler's completion engine on the
//! running kernel's BTF (or `--btf FILE` if given). Guarantees it never fails: anything it
//! cannot follow gets no candidates, and the shell falls back to file names.

use super::args::Cli;
use super::{open_kernel, userlib, Failure};
use bpfq_compiler::complete::unfinished_word;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::Compiler;
use bpfq_compiler::queryfile::query_names;
use bpfq_compiler::stdlib::Stdlib;
use bpfq_compiler::syntax::parse_module;
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::PathBuf;

const BASH: &str = include_str!("completions/bpfq.bash");
const ZSH: &str = include_str!("completions/bpfq.zsh");
const FISH: &str = include_str!("completions/bpfq.fish");

/// `bpfq completions SHELL`. bash, zsh and fish get scripts that call `__complete`; the other
/// shells clap_complete knows get its static script (options and subcommands only).
pub fn print_script(shell: Shell) -> Result<(), Failure> {
    let script = match shell {
        Shell::Bash => BASH,
        Shell::Zsh => ZSH,
        Shell::Fish => FISH,
        other => {
            // Generated in memory: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(other, &mut Cli::command(), "bpfq", &mut script);
            return super::output::print(&script);
        }
    };
    super::output::print(script.as_bytes())
}

/// `bpfq __complete CWORD WORDS...`: the candidates, one a line.
pub fn complete(cword: usize, words: &[String]) -> Result<(), Failure> {
    let mut out = String::new();
    for candidate in candidates(cword, words) {
        out.push_str(&candidate);
        out.push('\n');
    }
    super::output::print(out.as_bytes())
}

/// What the words before the one being completed say.
#[derive(Default)]
struct Line {
    subcommand: Option<String>,
    /// Positional words after the subcommand (or the query's words without one).
    positionals: Vec<String>,
    /// The option whose value is being completed (its long name).
    value_of: Option<String>,
    btf: Option<PathBuf>,
    /// The query file of `-f FILE` (`bpfq explain -f FILE NAME`).
    file: Option<String>,
}

fn read_line(before: &[String]) -> Line {
    let command = Cli::command();
    let mut line = Line::default();
    let mut pending: Option<String> = None;
    for word in before {
        if let Some(option) = pending.take() {
            match option.as_str() {
                "btf" => line.btf = Some(PathBuf::from(word)),
                "file" => line.file = Some(word.clone()),
                _ => {}
            }
            continue;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            match value {
                Some(value) if name == "btf" => line.btf = Some(PathBuf::from(value)),
                None if takes_value(&command, &line, |a| a.get_long() == Some(name)) => {
                    pending = Some(name.to_string())
                }
                _ => {}
            }
        } else if word.len() == 2 && word.starts_with('-') {
            let short = word.chars().nth(1);
            let found = options(&command, &line)
                .into_iter()
                .find(|a| a.get_short() == short && short.is_some());
            if let Some(arg) = found.filter(|a| a.get_action().takes_values()) {
                pending = Some(arg.get_long().unwrap_or_default().to_string());
            }
        } else if line.subcommand.is_none()
            && line.positionals.is_empty()
            && command.find_subcommand(word).is_some()
        {
            line.subcommand = Some(word.clone());
        } else {
            line.positionals.push(word.clone());
        }
    }
    line.value_of = pending;
    line
}

/// The options that apply: the top level's, and the subcommand's when there is one.
fn options<'c>(command: &'c clap::Command, line: &Line) -> Vec<&'c clap::Arg> {
    let mut all: Vec<&clap::Arg> = command
        .get_arguments()
        .filter(|a| !a.is_positional())
        .collect();
    if let Some(sub) = line
        .subcommand
        .as_deref()
        .and_then(|s| command.find_subcommand(s))
    {
        all.extend(sub.get_arguments().filter(|a| !a.is_positional()));
    }
    all
}

fn takes_value(command: &clap::Command, line: &Line, is: impl Fn(&clap::Arg) -> bool) -> bool {
    options(command, line)
        .into_iter()
        .any(|a| is(a) && a.get_action().takes_values())
}

fn candidates(cword: usize, words: &[String]) -> Vec<String> {
    let before = words.get(1..cword.min(words.len())).unwrap_or(&[]);
    let current = words.get(cword).map(String::as_str).unwrap_or("");
    let line = read_line(before);
    let command = Cli::command();
    let mut found: Vec<String> = if let Some(option) = &line.value_of {
        // The value of an option: its listed values (`-o` formats); files for the others.
        options(&command, &line)
            .into_iter()
            .find(|a| a.get_long() == Some(option.as_str()))
            .map(|a| {
                a.get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_string())
                    .collect()
            })
            .unwrap_or_default()
    } else if current.starts_with('-') {
        options(&command, &line)
            .into_iter()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    } else {
        match line.subcommand.as_deref() {
            None if line.positionals.is_empty() && !current.contains(char::is_whitespace) => {
                let mut first: Vec<String> = command
                    .get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .map(|s| s.get_name().to_string())
                    .collect();
                first.push("from".to_string());
                first
            }
            Some("explain") if line.positionals.is_empty() && line.file.is_some() => {
                query_names_in(line.file.as_deref().unwrap_or_default())
            }
            None | Some("explain") => in_query(&line, &query_text(&line.positionals, current)),
            Some("describe") => match current.split_once('.') {
                Some((target, _)) => in_query(&line, &format!("from {target} select {current}")),
                None => in_query(&line, &format!("from {current}")),
            },
            Some("run") if line.positionals.len() == 1 => query_names_in(&line.positionals[0]),
            Some("completions") => ["bash", "zsh", "fish", "elvish", "powershell"]
                .map(String::from)
                .to_vec(),
            Some(_) => Vec::new(),
        }
    };
    // Candidates replace the unfinished word only: what comes before it in the shell's word
    // (`pid,` of `pid,co`, an opening quote) is kept.
    let word = unfinished_word(current);
    let kept = &current[..current.len() - word.len()];
    let typed = if line.value_of.is_some() || current.starts_with('-') {
        current
    } else {
        word
    };
    found.retain(|c| c.starts_with(typed));
    found.sort();
    found.dedup();
    if typed == current {
        found
    } else {
        found.into_iter().map(|c| format!("{kept}{c}")).collect()
    }
}

/// The named queries of the file `bpfq run FILE` (or `explain -f FILE`) was given.
fn query_names_in(path: &str) -> Vec<String> {
    let limit = bpfq_kernel::input::MAX_SOURCE_BYTES;
    let Ok(text) = bpfq_kernel::input::read_input_text(std::path::Path::new(path), limit) else {
        return Vec::new();
    };
    let file = Sources::new().add(path, text.clone());
    match parse_module(&text, file) {
        Ok(module) => query_names(&module).into_iter().map(String::from).collect(),
        Err(_) => Vec::new(),
    }
}

/// The query typed so far: its words, without the quotes the shell has not closed yet.
fn query_text(positionals: &[String], current: &str) -> String {
    let unquote = |w: &str| w.trim_start_matches(['\'', '"']).to_string();
    let mut words: Vec<String> = positionals.iter().map(|w| unquote(w)).collect();
    words.push(unquote(current));
    words.join(" ")
}

/// The compiler's candidates for the end of `text`, on this kernel's BTF (or `--btf`).
fn in_query(line: &Line, text: &str) -> Vec<String> {
    let Ok(kernel) = open_kernel(line.btf.as_deref()) else {
        return Vec::new();
    };
    let mut sources = Sources::new();
    let user_files = userlib::user_files().unwrap_or_default();
    let Ok(stdlib) = Stdlib::load(&mut sources, &user_files) else {
        return Vec::new();
    };
    // Completion never opens maps: key/value columns of map targets are offered untyped.
    let compiler = Compiler::new(&kernel.btf, &kernel.features, &stdlib, &sources);
    compiler.complete(text)
}
