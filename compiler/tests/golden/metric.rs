//! `metric` items (`bpfq serve`): what a metric publishes (labels from `group by` keys, samples
//! from aggregates, kind, HELP from the doc comment), and every metric diagnostic (E0920-E0930)
//! rendered against the 6.18 BTF fixture and snapshotted for review.

use bpfq_compiler::diagnostic::{Diagnostic, Sources};
use bpfq_compiler::metric::{shape, MetricKind, MetricShape};
use bpfq_compiler::pipeline::{Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_compiler::syntax::ast::Item;
use bpfq_compiler::syntax::parse_module;
use bpfq_kernel::Btf;

fn fixture() -> &'static Btf {
    crate::common::fixture("6.18")
}

/// The shape of the only item of `file` (a `metric` item), or its diagnostic rendered.
fn shape_of(btf: &Btf, file: &str) -> Result<MetricShape, (Diagnostic, String)> {
    let mut sources = Sources::new();
    let id = sources.add("<metric file>", file);
    let module = parse_module(file, id).expect("the file parses");
    let Some(Item::Query(item)) = module.items.first() else {
        panic!("a metric item first: {file}");
    };
    let stdlib = Stdlib::load_for(&mut sources, None, &[]).expect("stdlib");
    let features = bpfq_kernel::KernelFeatures::from_btf(btf).expect("features of the BTF");
    let compiler = Compiler::new(btf, &features, &stdlib, &sources);
    let compiled = compiler
        .compile(Input::Parsed(&item.query), Options::default())
        .expect("the query compiles");
    shape(item, &compiled).map_err(|diag| {
        let text = diag.render(&sources);
        (diag, text)
    })
}

#[test]
fn keys_become_labels_and_aggregates_samples() {
    let btf = fixture();
    let file = "--- Sockets and their queues by state.\n--- Second line.\n\
        metric tcp_state: counter = from tcp select state, count(*) as sockets, \
        sum(rx_queue) as queued group by state;";
    let got = shape_of(btf, file).expect("a metric");
    assert_eq!(got.name, "tcp_state");
    assert_eq!(got.kind, MetricKind::Counter);
    assert_eq!(got.help, "Sockets and their queues by state. Second line.");
    assert_eq!(got.labels, vec![(0, "state".to_string())]);
    assert_eq!(
        got.samples,
        vec![
            (1, "tcp_state_sockets".to_string()),
            (2, "tcp_state_queued".to_string())
        ]
    );
}

#[test]
fn one_sample_is_named_after_the_metric_and_gauge_is_the_default() {
    let btf = fixture();
    let file = "metric tasks = from task select uid, count(*) as n group by uid;";
    let got = shape_of(btf, file).expect("a metric");
    assert_eq!(got.kind, MetricKind::Gauge);
    assert_eq!(got.help, "bpfq metric tasks");
    assert_eq!(got.labels, vec![(0, "uid".to_string())]);
    assert_eq!(got.samples, vec![(1, "tasks".to_string())]);
}

#[test]
fn aggregates_without_group_by_are_one_series_without_labels() {
    let btf = fixture();
    let file = "metric all_tasks = from task select count(*) as n;";
    let got = shape_of(btf, file).expect("a metric");
    assert!(got.labels.is_empty());
    assert_eq!(got.samples, vec![(0, "all_tasks".to_string())]);
}

const CASES: &[(&str, &str)] = &[
    ("E0920", "metric pids = from task select pid, comm;"),
    (
        "E0921",
        "metric names = from task select uid, min(comm) as first group by uid;",
    ),
    (
        "E0922",
        "metric tasks: histogram = from task select uid, count(*) as n group by uid;",
    ),
    (
        "E0923",
        "metric joined = from task_file join tcp on task_file.inode == tcp.inode select state, fd;",
    ),
    (
        "E0924",
        "metric `tcp-sockets` = from tcp select state, count(*) as n group by state;",
    ),
    (
        "E0924",
        "metric tcp = from tcp select state as __state, count(*) as n group by state;",
    ),
    (
        "E0929",
        "metric states = from tcp select state group by state;",
    ),
    (
        "E0930",
        "metric by_comm = from task select comm, count(*) as n group by pid, comm;",
    ),
];

#[test]
fn every_metric_diagnostic_has_its_code_and_reads_well() {
    let btf = fixture();
    let mut rendered = String::new();
    for (code, file) in CASES {
        let (diag, text) = shape_of(btf, file).expect_err(file);
        assert_eq!(diag.code, *code, "{file}\n{text}");
        rendered.push_str(&format!("### {file}\n{text}\n"));
    }
    insta::assert_snapshot!(rendered);
}
