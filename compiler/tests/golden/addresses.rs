//! Socket addresses against the BTF fixtures: the address and family columns of tcp and udp
//! with their filters compile on every fixture kernel (the bound filter, its row layout and its
//! program size snapshotted per kernel), and every bad address, prefix or family is a coded
//! diagnostic pointing at the literal.

use crate::common;

use bpfq_compiler::layout::ColumnKind;
use bpfq_compiler::pipeline::{Input, Options};
use common::{fixture, with_env, VERSIONS};

/// The typed filter and row layout of `query`, or its rendered diagnostic.
fn compiled(btf: &bpfq_kernel::Btf, query: &str) -> String {
    with_env(btf, query, |file, env| {
        match env.compile_single(Input::File(file), Options::default()) {
            Ok(c) => {
                let filter = c
                    .plan
                    .kernel
                    .filter
                    .as_ref()
                    .map_or("none".to_string(), ToString::to_string);
                let layout: Vec<String> = c
                    .plan
                    .layout
                    .columns
                    .iter()
                    .map(|col| match &col.kind {
                        ColumnKind::Enum { bytes, names, .. } => format!(
                            "{} @{} Enum of {bytes} bytes, {} names ({:?}...)",
                            col.name,
                            col.offset,
                            names.len(),
                            &names[..names.len().min(3)]
                        ),
                        other => format!("{} @{} {other:?}", col.name, col.offset),
                    })
                    .collect();
                format!(
                    "where {filter}\nrow {} bytes: {}\n{} instructions\n",
                    c.plan.layout.size,
                    layout.join("; "),
                    c.program.insns.len()
                )
            }
            Err(diag) => diag.render(env.sources()),
        }
    })
}

const GOLDEN: &[&str] = &[
    "from tcp select family, src, dst where src == \"127.0.0.1\" or dst == \"::1\"",
    "from udp select family, src where src in (\"10.0.0.0/8\", \"fe80::/10\") and family == inet6",
    "from tcp select family, dst where family != \"inet\" and dst != \"::ffff:10.1.2.3\"",
];

#[test]
fn address_filters_compile_on_every_fixture_kernel() {
    let mut all = String::new();
    for version in VERSIONS {
        let btf = fixture(version);
        for query in GOLDEN {
            all.push_str(&format!(
                "## Linux {version}: {query}\n{}\n",
                compiled(btf, query)
            ));
        }
    }
    insta::assert_snapshot!(all);
}

/// (code, query): each must fail with the code, pointing at the literal.
const BAD: &[(&str, &str)] = &[
    ("E0260", "from tcp select sport where dst == \"10.1.2\""),
    ("E0260", "from tcp select sport where src == \"localhost\""),
    ("E0260", "from udp select sport where src in (\"::1\", \"fe80::1::2/10\")"),
    ("E0261", "from tcp select sport where dst in (\"10.0.0.0/33\")"),
    ("E0261", "from tcp select sport where dst in (\"::/129\")"),
    ("E0261", "from tcp select sport where dst in (\"10.0.0.0/\")"),
    ("E0262", "from tcp select sport where dst in (\"10.1.2.3/8\")"),
    ("E0262", "from tcp select sport where src in (\"fe80::1/10\")"),
    ("E0263", "from tcp select sport where dst == \"10.0.0.0/8\""),
    ("E0263", "from udp select sport where src != \"fe80::/10\""),
    ("E0201", "from tcp select sport where dst < \"10.0.0.1\""),
    ("E0201", "from tcp select sport where dst == 167837953"),
    ("E0226", "from tcp select sport where family == \"inet7\""),
    (
        "E0201",
        "from tcp select src, count(*) group by src having src == \"127.0.0.1\"",
    ),
    (
        "E0201",
        "from tcp select inet_addr(sk_common.skc_family, sk_common.skc_num, sk_common.skc_v6_daddr)",
    ),
];

#[test]
fn bad_addresses_prefixes_and_families_are_coded_diagnostics() {
    let btf = fixture("6.18");
    let mut rendered = String::new();
    for (code, query) in BAD {
        let (got, text) = with_env(btf, query, |file, env| {
            match env.compile(Input::File(file), Options::default()) {
                Ok(_) => panic!("expected an error for {query}"),
                Err(diag) => (diag.code.to_string(), diag.render(env.sources())),
            }
        });
        assert_eq!(&got, code, "{query}\n{text}");
        assert!(
            bpfq_compiler::codes::explain(code).is_some(),
            "{code} undocumented"
        );
        rendered.push_str(&format!("### {query}\n{text}\n"));
    }
    insta::assert_snapshot!(rendered);
}
