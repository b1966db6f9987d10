//! Query files with named queries and typed parameters: which query `bpfq run FILE [NAME]`
//! picks, the parameter values it hands the binder, and the diagnostics (codes + rendered text,
//! snapshotted for review) for an unknown name, an unchosen query, a missing or ill-typed
//! parameter. Command-line text is its own source, as the CLI adds it.

use bpfq_compiler::bind::Params;
use bpfq_compiler::diagnostic::{Sources, Span};
use bpfq_compiler::queryfile::{choose, query_names, undeclared_param, GivenParam};
use bpfq_compiler::syntax::ast::Ident;
use bpfq_compiler::syntax::parse_module;

const FILE: &str = "\
-- Sockets, by port.
--- The port to look at.
param port: u16 = 22;
param verbose: bool = false;
param name: string;

--- Listening sockets.
query listening = from tcp select src, sport where state == LISTEN;
query on_port = from tcp select src, sport, dst, dport where sport == $port;
";

/// The chosen query's name and its parameter values.
type Picked = (Option<String>, Params);

/// What `choose` gives for `FILE` (or `text`) with `name` and `--param` options: the chosen
/// query's name and the parameters, or the code and rendered diagnostic.
fn run(text: &str, name: Option<&str>, params: &[&str]) -> Result<Picked, (String, String)> {
    let mut sources = Sources::new();
    let file = sources.add("sockets.bpfq", text);
    let wanted = name.map(|n| Ident {
        name: n.to_string(),
        span: Span::new(sources.add("<query name>", n), 0, n.len()),
    });
    let given: Vec<GivenParam> = params
        .iter()
        .map(|option| {
            let (key, value) = option.split_once('=').expect("k=v");
            let at = sources.add("--param", *option);
            GivenParam {
                name: key.to_string(),
                name_span: Span::new(at, 0, key.len()),
                value: value.to_string(),
                value_span: Span::new(at, key.len() + 1, option.len()),
            }
        })
        .collect();
    let module = parse_module(text, file).expect("the file parses");
    match choose(
        &module,
        Span::new(file, 0, text.len()),
        wanted.as_ref(),
        &given,
    ) {
        // A run refuses a parameter the file does not claim, as the CLI does.
        Ok(chosen) => match chosen.unclaimed.first() {
            Some(given) => {
                let diag = undeclared_param(given, &module);
                Err((diag.code.to_string(), diag.render(&sources)))
            }
            None => Ok((chosen.name.map(str::to_string), chosen.params)),
        },
        Err(diag) => Err((diag.code.to_string(), diag.render(&sources))),
    }
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs.iter().copied().collect()
}

#[test]
fn named_queries_are_listed_in_file_order() {
    let module = parse_module(FILE, Sources::new().add("f", FILE)).expect("parses");
    assert_eq!(query_names(&module), ["listening", "on_port"]);
}

#[test]
fn defaults_apply_and_given_values_override_them() {
    let (name, got) = run(FILE, Some("on_port"), &["name=x"]).expect("chosen");
    assert_eq!(name.as_deref(), Some("on_port"));
    assert_eq!(
        got,
        params(&[("port", "22"), ("verbose", "0"), ("name", "x")]).with_type("port", "u16")
    );
    let (_, got) = run(
        FILE,
        Some("on_port"),
        &["name=sshd", "port=0x1bb", "verbose=true"],
    )
    .expect("chosen");
    assert_eq!(
        got,
        params(&[("port", "443"), ("verbose", "1"), ("name", "sshd")]).with_type("port", "u16"),
        "hex normalised, bool as 1, an integer's declared type"
    );
}

#[test]
fn a_parameter_without_default_is_needed_only_by_the_queries_using_it() {
    let (_, got) = run(FILE, Some("listening"), &[]).expect("`name` is not used");
    assert_eq!(
        got,
        params(&[("port", "22"), ("verbose", "0")]).with_type("port", "u16")
    );
}

#[test]
fn a_file_of_one_query_needs_no_name() {
    let (name, got) =
        run("from task select pid where pid == $pid", None, &["pid=5"]).expect("the bare query");
    assert_eq!(name, None);
    assert_eq!(got, params(&[("pid", "5")]));
    let (name, _) = run("query only = from task select pid;", None, &[]).expect("the only one");
    assert_eq!(name.as_deref(), Some("only"));
}

#[test]
fn query_file_diagnostics() {
    let cases: &[(&str, &str, Option<&str>, &[&str])] = &[
        ("E0111", FILE, Some("listenin"), &["name=x"]),
        ("E0111", FILE, Some("zzz"), &["name=x"]),
        ("E0111", "from task select pid", Some("main"), &[]),
        ("E0112", FILE, None, &["name=x"]),
        (
            "E0112",
            "query a = from task select pid;\nfrom task select comm;",
            None,
            &[],
        ),
        ("E0113", "param port: u16 = 22;\n", None, &[]),
        (
            "E0114",
            "param name: string;\nfrom task select pid where comm == $name",
            None,
            &[],
        ),
        ("E0208", FILE, Some("on_port"), &["name=x", "port=70000"]),
        ("E0208", FILE, Some("on_port"), &["name=x", "port=ssh"]),
        ("E0208", FILE, Some("on_port"), &["name=x", "verbose=yes"]),
        (
            "E0208",
            "param port: u8 = 300;\nfrom tcp select sport where sport == $port",
            None,
            &[],
        ),
        (
            "E0209",
            "param ratio: float = 1;\nfrom task select pid",
            None,
            &[],
        ),
        // A misspelt name is not ignored; an undeclared one the query uses is still passed on
        // (`a_file_of_one_query_needs_no_name`).
        ("E0022", FILE, Some("on_port"), &["name=x", "prot=443"]),
        ("E0022", "from task select pid", None, &["pid=1"]),
    ];
    let mut rendered = String::new();
    for (code, text, name, given) in cases {
        let (got, diag) = run(text, *name, given).expect_err("an error");
        assert_eq!(&got, code, "{diag}");
        assert!(diag.contains(&format!("error[{code}]")), "{diag}");
        rendered.push_str(&format!("### run {name:?} with {given:?}\n{diag}\n"));
    }
    insta::assert_snapshot!(rendered);
}

#[test]
fn every_new_code_is_documented() {
    for code in [
        "E0111", "E0112", "E0113", "E0114", "E0208", "E0209", "E0022",
    ] {
        assert!(
            bpfq_compiler::codes::ALL.iter().any(|(c, _)| *c == code),
            "{code} has no explanation"
        );
    }
}
