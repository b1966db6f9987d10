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
    super::output::print(&roff)
}
