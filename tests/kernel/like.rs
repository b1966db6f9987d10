//! Kernel test of `like`: processes with crafted names are matched in the kernel against many
//! glob patterns, and the result is compared with a glob matcher written here in Rust.

use crate::common;

use common::*;

/// Reference semantics: `%` matches any run of bytes (also empty), `_` exactly one byte.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'%', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'_', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

#[test]
fn like_agrees_with_a_reference_glob_matcher() {
    let _k = shared_kernel();
    let tag = format!("{:04}", std::process::id() % 10_000);
    let names = [
        format!("q{tag}aba"),
        format!("q{tag}abcab"),
        format!("q{tag}b"),
        format!("q{tag}xxabxx"),
        format!("q{tag}aaaaaaaaa"), // 15 bytes: the full comm, no room to spare
        format!("q{tag}_%lit"),
    ];
    let children: Vec<Named> = names.iter().map(|n| Named::spawn(n)).collect();
    let pids: Vec<String> = children.iter().map(|c| c.pid().to_string()).collect();
    let q = format!("q{tag}");
    let patterns = [
        format!("{q}%"),
        format!("{q}ab%"),
        "%ab".to_string(),
        "%ab%".to_string(),
        "%b".to_string(),
        format!("{q}a%a"),
        format!("{q}_"),
        format!("{q}___"),
        "%a%b%".to_string(),
        "%x%x%".to_string(),
        format!("{q}aaaaaaaaa"),
        format!("{q}aaaaaaaa_"),
        format!("{q}aaaaaaaa"),
        "%aaaa".to_string(),
        "%".to_string(),
        "%%".to_string(),
        format!("{q}%c%"),
        "%abx%".to_string(),
        format!("_{tag}%"),
        format!("{q}%_"),
        format!("%{q}%ab"),
        format!("{q}_%lit"),
    ];
    for pattern in &patterns {
        let query = format!(
            "from task select comm where comm like \"{pattern}\" and pid in ({})",
            pids.join(", ")
        );
        let out = bpfq(&[&query, "-o", "csv", "--no-header"]);
        assert!(out.status.success(), "{pattern}: {}", stderr(&out));
        let mut got: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        got.sort();
        let mut expected: Vec<String> = names
            .iter()
            .filter(|n| glob(pattern.as_bytes(), n.as_bytes()))
            .cloned()
            .collect();
        expected.sort();
        assert_eq!(got, expected, "pattern {pattern:?}");
        let negated = format!(
            "from task select comm where comm not like \"{pattern}\" and pid in ({})",
            pids.join(", ")
        );
        let out = bpfq(&[&negated, "-o", "csv", "--no-header"]);
        assert_eq!(
            stdout(&out).lines().count(),
            names.len() - expected.len(),
            "not like {pattern:?}"
        );
    }
}
