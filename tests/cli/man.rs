//! The manual page and `--help`: `bpfq man` renders with man(1) and lists every subcommand that
//! `bpfq --help` lists; every subcommand's help has examples and its own page renders.

use crate::common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// The subcommands `bpfq --help` lists (clap's help, not the man page generator).
fn subcommands() -> Vec<String> {
    let help = bpfq_ok(&["--help"]);
    let listed: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    assert!(listed.len() >= 6, "{help}");
    listed
}

/// `roff` formatted by man(1) as plain text; its warnings (bad requests) fail the test.
fn render_with_man(roff: &str) -> String {
    let mut man = Command::new("man")
        .args(["--warnings", "-l", "-"])
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("man(1) runs (apt-get install man-db)");
    man.stdin
        .take()
        .expect("stdin")
        .write_all(roff.as_bytes())
        .expect("write roff");
    let out = man.wait_with_output().expect("man ends");
    assert!(out.status.success(), "man: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "roff warnings");
    // Bold and underline come as overstrikes when not on a terminal: keep the letters.
    let mut text = String::new();
    for ch in stdout(&out).chars() {
        if ch == '\u{8}' {
            text.pop();
        } else {
            text.push(ch);
        }
    }
    text
}

#[test]
fn the_man_page_lists_every_subcommand() {
    let page = render_with_man(&bpfq_ok(&["man"]));
    assert!(page.contains("NAME") && page.contains("SYNOPSIS"), "{page}");
    for option in ["--watch", "--timings", "--wide", "--param", "--output"] {
        assert!(page.contains(option), "{option} in the page");
    }
    for sub in subcommands() {
        assert!(
            page.contains(&format!("bpfq-{sub}(1)")),
            "{sub} in:\n{page}"
        );
    }
    assert!(
        !page.contains("__complete"),
        "hidden subcommands stay hidden"
    );
}

#[test]
fn every_subcommand_has_examples_and_a_page() {
    for sub in subcommands() {
        let help = bpfq_ok(&[&sub, "--help"]);
        assert!(
            help.contains("Example"),
            "`bpfq {sub} --help` has examples:\n{help}"
        );
        assert!(help.contains(&format!("bpfq {sub}")), "{help}");
        let page = render_with_man(&bpfq_ok(&["man", &sub]));
        assert!(page.contains(&format!("bpfq-{sub}")), "{page}");
        assert!(page.contains("Example"), "{page}");
    }
    assert!(bpfq_ok(&["--help"]).contains("Examples:"));
    let unknown = bpfq(&["man", "nosuch"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("explain"), "{}", stderr(&unknown));
}

/// Every built-in function `bpfq describe functions` lists is in the FUNCTIONS section of
/// bpfq(1) and of bpfq-describe(1), with its one-line doc.
#[test]
fn the_man_page_lists_every_function() {
    let listed = bpfq_ok(&["describe", "functions"]);
    let names: Vec<&str> = listed
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split('(').next())
        .collect();
    for name in [
        "upper",
        "substr",
        "concat",
        "format_bytes",
        "now",
        "if",
        "count",
    ] {
        assert!(names.contains(&name), "{name} in:\n{listed}");
    }
    for page in [bpfq_ok(&["man"]), bpfq_ok(&["man", "describe"])] {
        let page = render_with_man(&page);
        let section = page
            .split("FUNCTIONS")
            .nth(1)
            .unwrap_or_else(|| panic!("a FUNCTIONS section in:\n{page}"));
        for name in &names {
            assert!(
                section.contains(&format!("{name}(")),
                "{name} in:\n{section}"
            );
        }
        assert!(section.contains("as `ls -h` shows it"), "{section}");
    }
}
