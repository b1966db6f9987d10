//! Kernel test at scale: 20,000 IPv6 routes in a network namespace the test creates, read by
//! bpfq through the ring buffer transport (one walk of the fib6 tree) and compared route by
//! route with /proc/net/ipv6_route of that namespace (an independent view): every route once.

use crate::common;

use common::netns::Namespace;
use common::*;
use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::process::Command;

const ROUTES: usize = 20_000;

/// (destination, prefix length) -> how many rows name it.
type RouteCounts = BTreeMap<(String, u32), usize>;

fn count(routes: impl Iterator<Item = (String, u32)>) -> RouteCounts {
    let mut counts = RouteCounts::new();
    for route in routes {
        *counts.entry(route).or_default() += 1;
    }
    counts
}

#[test]
fn twenty_thousand_routes_each_once_as_in_proc() {
    // Alone, as before the tests shared a binary: 20,000 routes added in one batch and walked
    // through the ring buffer, the kernel-wide load of a scale test, beside no other test.
    let _k = exclusive_kernel();
    let ns = Namespace::create("rt");
    let batch: String = (0..ROUTES)
        .map(|i| {
            format!(
                "route add 2001:db8:{:x}:{:x}::/64 dev lo\n",
                i / 65536 + 1,
                i % 65536
            )
        })
        .collect();
    let batch_file = std::env::temp_dir().join(format!("bq_routes_{}", std::process::id()));
    std::fs::write(&batch_file, batch).expect("write route batch");
    let added = Command::new("ip")
        .args(["-n", &ns.0, "-6", "-batch"])
        .arg(&batch_file)
        .status()
        .expect("ip -batch");
    let _ = std::fs::remove_file(&batch_file);
    assert!(added.success(), "adding {ROUTES} routes");

    let query = format!(
        "from ipv6_route(netns = \"/run/netns/{}\") select dst, dst_len",
        ns.0
    );
    let out = bpfq(&[&query, "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = count(
        csv_rows(&stdout(&out))
            .into_iter()
            .map(|row| (row[0].clone(), row[1].parse().expect("dst_len"))),
    );

    let proc = Command::new("ip")
        .args(["netns", "exec", &ns.0, "cat", "/proc/net/ipv6_route"])
        .output()
        .expect("cat /proc/net/ipv6_route");
    let expected = count(String::from_utf8_lossy(&proc.stdout).lines().map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let dst = u128::from_str_radix(fields[0], 16).expect("hex address");
        let len = u32::from_str_radix(fields[1], 16).expect("hex length");
        (Ipv6Addr::from(dst).to_string(), len)
    }));

    let differing: Vec<_> = expected
        .iter()
        .filter(|(route, n)| got.get(route) != Some(n))
        .chain(
            got.iter()
                .filter(|(route, _)| !expected.contains_key(route)),
        )
        .collect();
    assert!(
        differing.is_empty(),
        "bpfq rows vs /proc/net/ipv6_route (route, times /proc or bpfq shows it): {differing:?}, bpfq {} routes, /proc {}",
        got.len(),
        expected.len()
    );
    let ours = got
        .keys()
        .filter(|(dst, len)| dst.starts_with("2001:db8:") && *len == 64)
        .count();
    assert_eq!(ours, ROUTES, "the test's routes among bpfq's rows");
}
