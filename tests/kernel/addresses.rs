//! Kernel tests of socket addresses: in a network namespace of its own (so `ss` there lists only
//! the test's sockets), a helper holds TCP and UDP sockets of every address kind (IPv4, IPv6,
//! IPv4-mapped, wildcard listeners of both families, dual-stack and IPV6_V6ONLY, addresses whose
//! text RFC 5952 compresses). bpfq's family, src and dst are compared with `ss -tan`/`ss -uan`
//! field by field, and each address and prefix filter, run in the kernel, with the same filter
//! run by `ss`.

use crate::common;

use common::netns::Namespace;
use common::*;
use std::collections::BTreeSet;
use std::process::Command;

/// A namespace with the helper's sockets in it; both go on drop (the helper first).
struct Sockets {
    _holder: KillOnDrop,
    ns: Namespace,
}

fn sockets() -> Sockets {
    let ns = Namespace::create("addr");
    for address in ["2001:db8::1:0:0:1/64", "2001:db8:0:1:1:1:1:1/64"] {
        let status = Command::new("ip")
            .args(["-n", &ns.0, "addr", "add", address, "dev", "lo", "nodad"])
            .status()
            .expect("ip");
        assert!(status.success(), "ip addr add {address}");
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/helpers/hold_addresses.py"
    );
    let mut holder = spawn_python(&["ip", "netns", "exec", &ns.0], &[script]);
    assert_eq!(holder.first_line(), "ready");
    Sockets {
        _holder: holder,
        ns,
    }
}

impl Sockets {
    /// `ss ARGS` in the namespace: per socket (state, local address, local port, peer address,
    /// peer port), addresses without ss's brackets.
    fn ss(&self, args: &[&str]) -> BTreeSet<Vec<String>> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns.0, "ss", "-nH"])
            .args(args)
            .output()
            .expect("ss");
        assert!(out.status.success(), "ss {args:?}: {}", stderr(&out));
        stdout(&out)
            .lines()
            .map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (src, sport) = split_address(f[3]);
                let (dst, dport) = split_address(f[4]);
                vec![ss_state(f[0]).to_string(), src, sport, dst, dport]
            })
            .collect()
    }

    /// `from TARGET select COLUMNS where FILTER` in the namespace (no `where` for an empty
    /// filter), as CSV rows.
    fn bpfq(&self, target: &str, columns: &str, filter: &str) -> BTreeSet<Vec<String>> {
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!(" where {filter}")
        };
        let query = format!(
            "from {target}(netns = \"/run/netns/{}\") select {columns}{filter}",
            self.ns.0
        );
        query_csv(&query, &[]).1.into_iter().collect()
    }
}

/// `ADDRESS:PORT` as ss prints it (`[::1]:80`, `*:*`) split in two, brackets removed.
fn split_address(field: &str) -> (String, String) {
    let (address, port) = field.rsplit_once(':').expect("address:port");
    let address = address.trim_start_matches('[').trim_end_matches(']');
    let port = if port == "*" { "0" } else { port };
    (address.to_string(), port.to_string())
}

/// ss's state names as bpfq names them.
fn ss_state(state: &str) -> &'static str {
    match state {
        "LISTEN" => "TCP_LISTEN",
        "ESTAB" => "TCP_ESTABLISHED",
        "UNCONN" => "TCP_CLOSE",
        other => panic!("a state the helper does not create: {other}"),
    }
}

const COLUMNS: &str = "state, src, sport, dst, dport, family, v6only";

/// bpfq's rows as ss shows them: ss writes `*` for the wildcard address of an inet6 socket that
/// also takes IPv4 (v6only 0) and `[::]` for one that does not; bpfq shows `::` for both, the
/// address the socket holds, and tells them apart by `v6only`. The family must be the one the
/// address's text says (inet6 for IPv6 and IPv4-mapped text).
fn as_ss_shows(rows: BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    rows.into_iter()
        .map(|mut row| {
            let v6only = row.pop().expect("v6only");
            let family = row.pop().expect("family");
            let text_family = if row[1].contains(':') {
                "inet6"
            } else {
                "inet"
            };
            assert_eq!(family, text_family, "{row:?}");
            if family == "inet6" && v6only == "0" && row[1] == "::" {
                row[1] = "*".into();
                if row[3] == "::" {
                    row[3] = "*".into();
                }
            }
            row
        })
        .collect()
}

#[test]
fn tcp_and_udp_addresses_match_ss_field_by_field() {
    let _k = shared_kernel();
    let s = sockets();
    for (target, flag) in [("tcp", "-ta"), ("udp", "-ua")] {
        let expected = s.ss(&[flag]);
        let got = as_ss_shows(s.bpfq(target, COLUMNS, ""));
        assert_eq!(got, expected, "{target}: bpfq (left) vs ss {flag} (right)");
    }
    // Every kind the helper made is there, in the text people read.
    let tcp = s.bpfq("tcp", "src", "");
    let udp = s.bpfq("udp", "src, dst", "");
    for address in [
        "127.0.0.1",
        "::1",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",
        "2001:db8::1:0:0:1",
    ] {
        assert!(
            tcp.contains(&vec![address.to_string()]),
            "{address}: {tcp:?}"
        );
    }
    assert!(udp.contains(&vec![
        "2001:db8:0:1:1:1:1:1".to_string(),
        "2001:db8::1:0:0:1".to_string()
    ]));
    // Bound to `::` and connected to an IPv4-mapped peer: the kernel gives it a mapped source.
    assert!(udp.contains(&vec![
        "::ffff:127.0.0.1".to_string(),
        "::ffff:127.0.0.1".to_string()
    ]));
    // The old raw columns keep working: for an inet6 socket src6/dst6 hold what src/dst show.
    // (distinct rows: listeners on ::1, 2001:db8::1:0:0:1 and :: twice, connections on ::1 and
    // 2001:db8::1:0:0:1 both ways, the IPv4-mapped server side)
    let inet6 = s.bpfq("tcp", "src, src6, dst, dst6", "family == inet6");
    assert_eq!(inet6.len(), 6, "{inet6:?}");
    for row in &inet6 {
        assert_eq!((&row[0], &row[2]), (&row[1], &row[3]), "{row:?}");
    }
    // The JSON value of an address is its text.
    let query = format!(
        "from tcp(netns = \"/run/netns/{}\") select family, src where src == \"::ffff:127.0.0.1\"",
        s.ns.0
    );
    let json = bpfq_ok(&[&query, "-o", "json"]);
    assert_eq!(
        json.trim(),
        "[\n{\"family\":\"inet6\",\"src\":\"::ffff:127.0.0.1\"}\n]",
        "{json}"
    );
}

/// Each filter runs in the kernel (bpfq) and in ss (its own filter language), and both keep
/// the same sockets; each keeps at least one, so an always-false filter fails too.
#[test]
fn address_and_prefix_filters_keep_what_ss_keeps() {
    let _k = shared_kernel();
    let s = sockets();
    // (target, bpfq filter, ss arguments: ss writes IPv6 addresses and prefixes in brackets)
    let cases: &[(&str, &str, &[&str])] = &[
        ("tcp", "src == \"127.0.0.1\"", &["-ta", "src", "127.0.0.1"]),
        ("tcp", "dst == \"127.0.0.1\"", &["-ta", "dst", "127.0.0.1"]),
        ("tcp", "src == \"::1\"", &["-ta", "src", "[::1]"]),
        (
            "tcp",
            "dst == \"2001:db8::1:0:0:1\"",
            &["-ta", "dst", "[2001:db8::1:0:0:1]"],
        ),
        (
            "tcp",
            "src in (\"127.0.0.0/8\")",
            &["-ta", "src", "127.0.0.0/8"],
        ),
        (
            "tcp",
            "src in (\"2001:db8::/32\", \"::1/128\")",
            &[
                "-ta",
                "(",
                "src",
                "[2001:db8::/32]",
                "or",
                "src",
                "[::1/128]",
                ")",
            ],
        ),
        ("tcp", "family == inet6", &["-ta", "-f", "inet6"]),
        ("tcp", "family == \"inet\"", &["-ta", "-f", "inet"]),
        (
            "tcp",
            "src != \"127.0.0.1\" and family == inet",
            &["-ta", "-f", "inet", "not", "src", "127.0.0.1"],
        ),
        (
            "udp",
            "dst in (\"127.0.0.0/8\")",
            &["-ua", "dst", "127.0.0.0/8"],
        ),
        (
            "udp",
            "src in (\"2001:db8:0:1::/64\")",
            &["-ua", "src", "[2001:db8:0:1::/64]"],
        ),
    ];
    for (target, filter, ss_args) in cases {
        let got = as_ss_shows(s.bpfq(target, COLUMNS, filter));
        let expected = s.ss(ss_args);
        assert!(!expected.is_empty(), "ss {ss_args:?} keeps some socket");
        assert_eq!(
            got, expected,
            "{target} where {filter}: bpfq (left) vs ss {ss_args:?}"
        );
    }
    // An IPv4 address matches the IPv4-mapped sockets too (as above with ss); an IPv6 one
    // matches IPv6 sockets only: the mapped text is not the IPv4 socket's address.
    let mapped = s.bpfq("tcp", "family, src", "src == \"::ffff:127.0.0.1\"");
    assert_eq!(
        mapped,
        BTreeSet::from([vec!["inet6".to_string(), "::ffff:127.0.0.1".to_string()]])
    );
}
