//! CLI: `bpfq man [SUBCOMMAND]`, the manual page rendered from the same clap declarations as
//! `--help` (clap_mangen), so the page cannot drift from the options. Guarantees one complete
//! roff page on stdout: bpfq(1), listing every subcommand, or bpfq-SUBCOMMAND(1).

use super::args::Cli;
use super::Failure;
use clap::CommandFactory;

pub fn print_page(subcommand: Option<&str>) -> Result<(), Failure> {
    let command = Cli::command();
    let page = match subcommand {
        None => command,
        Some(name) => {
            let visible: Vec<&str> = command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| s.get_name())
                .collect();
            match command.find_subcommand(name).filter(|s| !s.is_hide_set()) {
                // The page of `bpfq explain` is bpfq-explain(1), as git names its pages.
                Some(sub) => sub
                    .clone()
                    .name(format!("bpfq-{name}"))
                    .bin_name(format!("bpfq {name}")),
                None => {
                    return Err(Failure::Usage(format!(
                        "no subcommand `{name}`; the subcommands are: {}",
                        visible.join(", ")
                    )))
                }
            }
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| Failure::Runtime(format!("rendering the manual page failed: {e}")))?;
    if matches!(subcommand, None | Some("describe")) {
        roff.extend(functions_section().into_bytes());
    }
    super::output::print(&roff)
}

/// The FUNCTIONS section: every built-in function from the compiler's table of functions, as
/// `bpfq describe functions` lists them.
fn functions_section() -> String {
    let escape = |text: &str| text.replace('\\', "\\e").replace('-', "\\-");
    let mut roff = String::from(".SH FUNCTIONS\n");
    for [call, returns, runs, doc] in bpfq_compiler::bind::describe_functions() {
        roff.push_str(&format!(
            ".TP\n\\fB{}\\fR \\(em {}, in {}\n{}\n",
            escape(&call),
            escape(&returns),
            escape(&runs),
            escape(&doc)
        ));
    }
    roff
}
