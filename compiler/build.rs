//! Build step of the compiler crate: embeds every `stdlib/*.bpfq` file (sorted by name) so that
//! adding a target's columns is adding a file.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".bpfq"))
                .collect()
        })
        .unwrap_or_else(|e| panic!("bpfq's stdlib directory {}: {e}", dir.display()));
    // An empty stdlib would build a bpfq without any column names; refuse it here.
    assert!(!names.is_empty(), "no .bpfq files in {}", dir.display());
    names.sort();
    let mut out = String::from("/// The stdlib files compiled into bpfq: (display path, text).\npub const EMBEDDED: &[(&str, &str)] = &[\n");
    for name in &names {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            out,
            "    (\"stdlib/{name}\", include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");
    let target =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("stdlib_files.rs");
    std::fs::write(target, out).expect("write stdlib_files.rs");
}
