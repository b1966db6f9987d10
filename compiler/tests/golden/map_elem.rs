//! Golden tests of the map-element targets against the Linux 6.18 BTF fixture, with map shapes
//! given by the test (never the host's maps): the IR and BPF of key/value reads (integers, bytes,
//! per-CPU sums), socket columns from `sk`, and the diagnostics of bad maps.

use crate::common;

use bpfq_compiler::bpf::disasm::disassemble;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::maps::{MapLookup, MapLookupError, MapRef, MapShape};
use bpfq_compiler::pipeline::{Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use common::maps::shape;

/// A machine with a few maps of known shapes, by name.
struct TestMaps;

impl MapLookup for TestMaps {
    fn lookup(&self, map: &MapRef) -> Result<MapShape, MapLookupError> {
        let name = match map {
            MapRef::Name(name) => name.as_str(),
            MapRef::Id(42) => "counts",
            MapRef::Pinned(path) if path == "/sys/fs/bpf/counts" => "counts",
            MapRef::Id(_) | MapRef::Pinned(_) => {
                return Err(MapLookupError::Failed("No such file or directory".into()))
            }
        };
        Ok(match name {
            "counts" => shape(1, 4, 8, name),
            "flows" => shape(1, 16, 24, name),
            "percpu" => shape(6, 4, 4, name),
            "percpu_wide" => shape(5, 4, 12, name),
            "huge" => shape(1, 4, 4096, name),
            "events" => shape(27, 0, 0, name),
            "socks" => shape(15, 4, 4, name),
            "storage" => shape(24, 4, 8, name),
            _ => {
                return Err(MapLookupError::NotFound {
                    near: vec!["counts".into(), "flows".into(), "socks".into()],
                })
            }
        })
    }
}

/// Compiles `query` with `TestMaps`; the IR and BPF listing with the row layout, or the
/// rendered diagnostic.
fn compiled(query: &str) -> Result<String, String> {
    let btf = common::fixture("6.18");
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
    let features = bpfq_kernel::KernelFeatures::from_btf(btf).expect("features of the BTF");
    let env = Compiler::new(btf, &features, &stdlib, &sources).with_maps(&TestMaps);
    match env.compile_single(Input::File(file), Options::default()) {
        Ok(c) => {
            let layout: Vec<String> = c
                .plan
                .layout
                .columns
                .iter()
                .map(|col| format!("{} @{} {:?}", col.name, col.offset, col.kind))
                .collect();
            Ok(format!(
                "{}\n== IR\n{}\n== BPF\n{}\nrow {} bytes: {}\n",
                c.plan.describe(),
                c.ir,
                disassemble(&c.program, &|id| (id == 127)
                    .then(|| "bpf_seq_write".to_string())),
                c.plan.layout.size,
                layout.join("; ")
            ))
        }
        Err(diag) => Err(diag.render(&sources)),
    }
}

#[test]
fn integer_key_and_value_are_direct_loads_after_the_key_check() {
    let text =
        compiled("from bpf_map_elem(map = \"counts\") select key, value where value > 10").unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn id_and_pinned_path_name_the_same_map() {
    let by_name = compiled("from bpf_map_elem(map = \"counts\")").unwrap();
    assert_eq!(
        compiled("from bpf_map_elem(map = 42)").unwrap(),
        by_name.replace("map \"counts\"", "map id 42")
    );
    assert_eq!(
        compiled("from bpf_map_elem(map = \"/sys/fs/bpf/counts\")").unwrap(),
        by_name.replace("map \"counts\"", "map pinned at /sys/fs/bpf/counts")
    );
}

#[test]
fn wide_keys_and_values_are_bytes() {
    insta::assert_snapshot!(compiled("from bpf_map_elem(map = \"flows\")").unwrap());
}

#[test]
fn percpu_values_are_summed_over_possible_cpus() {
    insta::assert_snapshot!(compiled("from bpf_map_elem(map = \"percpu\")").unwrap());
}

#[test]
fn sockmap_and_sk_storage_read_sockets_from_sk() {
    insta::assert_snapshot!(
        "sockmap",
        compiled("from sockmap(map = \"socks\")").unwrap()
    );
    insta::assert_snapshot!(
        "sk_storage",
        compiled("from bpf_sk_storage_map(map = \"storage\")").unwrap()
    );
}

#[test]
fn bad_maps_are_coded_diagnostics() {
    let cases = [
        ("E0116", "from bpf_map_elem(map = \"cuonts\") select key"),
        ("E0116", "from bpf_map_elem(map = 7) select key"),
        ("E0117", "from bpf_map_elem(map = \"events\") select key"),
        ("E0117", "from sockmap(map = \"counts\") select key"),
        (
            "E0117",
            "from bpf_sk_storage_map(map = \"socks\") select value",
        ),
        (
            "E0210",
            "from bpf_map_elem(map = \"percpu_wide\") select value",
        ),
        ("E0210", "from bpf_map_elem(map = \"huge\") select value"),
        ("E0110", "from bpf_map_elem(mpa = \"counts\") select key"),
        ("E0110", "from bpf_map_elem(map = -1) select key"),
        ("E0115", "from bpf_sk_storage_map select value"),
    ];
    let mut rendered = String::new();
    for (code, query) in cases {
        let text = compiled(query).expect_err(query);
        assert!(text.contains(&format!("error[{code}]")), "{query}\n{text}");
        assert!(
            bpfq_compiler::codes::explain(code).is_some(),
            "{code} is documented"
        );
        rendered.push_str(&format!("### {query}\n{text}\n"));
    }
    insta::assert_snapshot!(rendered);
}
