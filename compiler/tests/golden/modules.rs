//! `use` in query files (stage `stdlib`, `compiler/src/modules.rs`) over an in-memory file
//! system: which definition a query sees (a module after the modules it uses, the query file
//! last), a module used twice loaded once, `std.NAME`, and the coded diagnostics (missing,
//! cycle, unreadable, unparsable module, conflicting definitions), rendered and snapshotted.
//! The typed columns are bound against the 6.18 BTF fixture.

use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::modules::{resolve, FoundFile, ModuleFiles, Modules, ReadFailure};
use bpfq_compiler::pipeline::{Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_compiler::syntax::parse_module;
use bpfq_kernel::Btf;
use std::collections::HashMap;

/// Files by path (`root/relative`); `None` text stands for a file that cannot be read.
struct MemoryFiles {
    roots: Vec<&'static str>,
    files: HashMap<String, Option<&'static str>>,
}

impl MemoryFiles {
    fn new(roots: &[&'static str], files: &[(&str, Option<&'static str>)]) -> MemoryFiles {
        MemoryFiles {
            roots: roots.to_vec(),
            files: files
                .iter()
                .map(|(path, text)| (path.to_string(), *text))
                .collect(),
        }
    }
}

impl ModuleFiles for MemoryFiles {
    fn roots(&self) -> Vec<String> {
        self.roots.iter().map(|r| r.to_string()).collect()
    }

    fn read(&self, root: &str, relative: &str) -> Option<Result<FoundFile, ReadFailure>> {
        let path = format!("{root}/{relative}");
        let text = self.files.get(&path)?;
        Some(match text {
            Some(text) => Ok(FoundFile {
                identity: path.clone(),
                display: path,
                text: text.to_string(),
            }),
            None => Err(ReadFailure::Unreadable(format!(
                "{path}: Permission denied (os error 13)"
            ))),
        })
    }

    fn names_under(&self, root: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|path| path.strip_prefix(&format!("{root}/")))
            .filter_map(|rest| rest.strip_suffix(".bpfq"))
            .map(|rest| rest.replace('/', "."))
            .collect();
        names.sort();
        names
    }
}

/// The query file `q/main.bpfq` (identity and display) and its modules: the stdlib it sees,
/// or the rendered diagnostic.
fn load(main: &str, files: &MemoryFiles) -> Result<(Stdlib, Sources, Modules), String> {
    let mut sources = Sources::new();
    let file = sources.add("q/main.bpfq", main);
    let module = parse_module(main, file).expect("the query file parses");
    let loaded = resolve(&module, file, "q/main.bpfq", files, &mut sources).and_then(|modules| {
        let target = ["task".to_string()];
        let mut lib = Stdlib::load_targets(&mut sources, Some(&target), &[])?;
        modules.apply(&mut lib, &module)?;
        Ok((lib, modules))
    });
    match loaded {
        Ok((lib, modules)) => Ok((lib, sources, modules)),
        Err(diag) => Err(format!("{}\n{}", diag.code, diag.render(&sources))),
    }
}

/// Where the column the query sees is defined: the file name and its expression's text.
fn defined(lib: &Stdlib, sources: &Sources, column: &str) -> String {
    let decl = lib.column("task", column).expect("column defined");
    let text = &sources.text(decl.span.file)[decl.span.range()];
    format!("{}: {text}", sources.name(decl.span.file))
}

const LIB: &[(&str, Option<&str>)] = &[
    ("q/net/base.bpfq", Some("column task.x = task.pid;\n")),
    (
        "q/net/ports.bpfq",
        Some("use net.base;\n--- Replaces base's x: ports uses base.\ncolumn task.x = task.tgid;\ncolumn task.y = task.prio;\n"),
    ),
    (
        "q/net/other.bpfq",
        Some("use net.base;\ncolumn task.z = task.pid;\ndefaults task: pid, x;\n"),
    ),
    ("home/lib/far.bpfq", Some("column task.far = task.pid + 1;\n")),
    ("q/lib/far.bpfq", Some("column task.far = task.pid + 2;\n")),
    ("q/clash/one.bpfq", Some("column task.y = task.pid;\n")),
    ("q/clash/two.bpfq", Some("defaults task: pid;\n")),
    ("q/cycle/a.bpfq", Some("use cycle.b;\n")),
    ("q/cycle/b.bpfq", Some("use cycle.c;\n")),
    ("q/cycle/c.bpfq", Some("use cycle.a;\n")),
    ("q/back.bpfq", Some("use main;\n")),
    ("q/main.bpfq", Some("use back;\n")),
    ("q/locked.bpfq", None),
    ("q/broken.bpfq", Some("column task.w = task.pid +;\n")),
    ("q/uses_broken.bpfq", Some("use broken;\n")),
];

fn files() -> MemoryFiles {
    MemoryFiles::new(&["q", "home"], LIB)
}

#[test]
fn a_module_replaces_what_the_modules_it_uses_define_and_the_file_replaces_all() {
    let files = files();
    let (lib, sources, modules) =
        load("use net.ports;\nuse net.other;\nfrom task select x", &files).unwrap();
    // base is used by ports and by other: loaded once.
    assert_eq!(modules.len(), 3);
    assert_eq!(
        defined(&lib, &sources, "x"),
        "q/net/ports.bpfq: column task.x = task.tgid"
    );
    assert_eq!(
        defined(&lib, &sources, "z"),
        "q/net/other.bpfq: column task.z = task.pid"
    );
    assert_eq!(
        lib.defaults("task")
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["pid", "x"]
    );
    // Stdlib columns stay, and a module may replace them.
    assert!(lib.column("task", "comm").is_some());
    let (lib, sources, _) = load(
        "use net.ports;\ncolumn task.x = task.prio;\ncolumn task.comm = task.pid;\nfrom task select x",
        &files,
    )
    .unwrap();
    assert_eq!(
        defined(&lib, &sources, "x"),
        "q/main.bpfq: column task.x = task.prio"
    );
    assert_eq!(
        defined(&lib, &sources, "comm"),
        "q/main.bpfq: column task.comm = task.pid"
    );
}

#[test]
fn the_first_search_root_that_has_the_file_wins() {
    let (lib, sources, _) = load("use lib.far;\nfrom task select far", &files()).unwrap();
    assert_eq!(
        defined(&lib, &sources, "far"),
        "q/lib/far.bpfq: column task.far = task.pid + 2"
    );
    let only_home = MemoryFiles::new(&["q", "home"], &LIB[3..4]);
    let (lib, sources, _) = load("use lib.far;\nfrom task select far", &only_home).unwrap();
    assert_eq!(
        defined(&lib, &sources, "far"),
        "home/lib/far.bpfq: column task.far = task.pid + 1"
    );
}

#[test]
fn std_modules_name_embedded_files() {
    let (_, _, modules) =
        load("use std.tcp;\nuse std.tcp;\nfrom task select pid", &files()).unwrap();
    assert_eq!(modules.std_targets, ["tcp"]);
    assert!(modules.is_empty());
}

#[test]
fn a_module_column_binds_like_a_stdlib_column() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/btf/linux-6.18.btf.xz"
    );
    let btf = Btf::from_file(std::path::Path::new(path)).expect("fixture BTF");
    let files = files();
    let (lib, mut sources, _) = load("use net.ports;\nfrom task select x, y", &files).unwrap();
    let query = sources.add("<query>", "from task select x, y");
    let features = bpfq_kernel::KernelFeatures::from_btf(&btf).expect("features of the BTF");
    let env = Compiler::new(&btf, &features, &lib, &sources);
    let compiled = env
        .compile(Input::File(query), Options::default())
        .expect("compiles");
    let bpfq_compiler::pipeline::CompiledQuery::Single(compiled) = compiled else {
        panic!("one source")
    };
    let layout: Vec<String> = compiled
        .plan
        .layout
        .columns
        .iter()
        .map(|c| format!("{} {:?}", c.name, c.kind))
        .collect();
    // task.tgid and task.prio are both `int` in the kernel.
    insta::assert_snapshot!(layout.join("\n"), @r"
    x Int { bytes: 4, signed: true }
    y Int { bytes: 4, signed: true }
    ");
}

#[test]
fn module_diagnostics() {
    let files = files();
    let cases: &[(&str, &str)] = &[
        ("E0119", "use net.port;\nfrom task select pid"),
        ("E0119", "use std.tcpp;\nfrom task select pid"),
        ("E0119", "use std.net.tcp;\nfrom task select pid"),
        ("E0119", "use nowhere.near.anything;\nfrom task select pid"),
        ("E0120", "use cycle.a;\nfrom task select pid"),
        ("E0120", "use back;\nfrom task select pid"),
        ("E0121", "use locked;\nfrom task select pid"),
        ("E0001", "use uses_broken;\nfrom task select pid"),
        (
            "E0122",
            "use net.ports;\nuse clash.one;\nfrom task select y",
        ),
        (
            "E0122",
            "use net.other;\nuse clash.two;\nfrom task select *",
        ),
    ];
    let mut rendered = String::new();
    for (code, main) in cases {
        let error = load(main, &files)
            .err()
            .unwrap_or_else(|| panic!("{main}: loads"));
        let (got, text) = error.split_once('\n').unwrap();
        assert_eq!(got, *code, "{main}\n{text}");
        rendered.push_str(&format!("### {main:?}\n{text}\n"));
    }
    insta::assert_snapshot!(rendered);
    // Defining the clashing column in the query file settles it.
    let (lib, sources, _) = load(
        "use net.ports;\nuse clash.one;\ncolumn task.y = task.nice;\nfrom task select y",
        &files,
    )
    .unwrap();
    assert_eq!(
        defined(&lib, &sources, "y"),
        "q/main.bpfq: column task.y = task.nice"
    );
}

#[test]
fn every_module_code_is_documented() {
    for code in ["E0119", "E0120", "E0121", "E0122"] {
        assert!(bpfq_compiler::codes::explain(code).is_some(), "{code}");
    }
}
