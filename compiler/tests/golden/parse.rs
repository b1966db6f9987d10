//! Parse stage tests: query text -> AST outline or rendered diagnostic, snapshotted
//! with insta (each snapshot's description is its input), plus no-panic sweeps.

use bpfq_compiler::diagnostic::{Diagnostic, Sources};
use bpfq_compiler::syntax::ast::{ExprKind, Item, Select};
use bpfq_compiler::syntax::{display, parse_module, parse_query};

/// Parse `src` as a query (or, with a leading `module:` line, as a module) and return
/// the AST outline or the rendered diagnostic.
fn check(src: &str) -> String {
    let mut sources = Sources::new();
    let (text, as_module) = match src.strip_prefix("module:\n") {
        Some(rest) => (rest, true),
        None => (src, false),
    };
    let file = sources.add("<query>", text);
    let result: Result<String, Diagnostic> = if as_module {
        parse_module(text, file).map(|module| display::module_outline(&module))
    } else {
        parse_query(text, file).map(|query| display::query_outline(&query))
    };
    match result {
        Ok(outline) => outline,
        Err(diagnostic) => diagnostic.render(&sources),
    }
}

#[test]
fn query_clauses() {
    snap!("minimal", "from task");
    snap!("all_clauses", "from task select pid, comm as name where pid == 42 group by comm having count(*) > 1 order by pid desc, comm asc, tid limit 10;");
    snap!("select_star", "from task select *");
    snap!(
        "source_params_and_alias",
        "from task_file(pid = 42, fd = $fd) as f select f.fd"
    );
    snap!("joins", "from task as t join task_file(pid = 1) as f on f.task == t.task join tcp on 1 == 1 select t.pid");
    snap!("case_insensitive_keywords", "FROM Task SELECT Pid AS P WHERE Comm LIKE \"k%\" AND NOT x IS NULL ORDER BY p DESC LIMIT 5");
    snap!("comments", "-- leading comment\nfrom task -- after the target\n  select pid -- the pid\n  -- a whole line\n  where pid > 1 --");
    snap!(
        "backquoted_names",
        "from task select `order`, task.desc.`from` as `select` where `limit` == 1"
    );
}

#[test]
fn expression_precedence() {
    snap!("arithmetic", "from t where a + b * c - d / e % f == -g");
    snap!(
        "bits_and_shifts",
        "from t where a | b ^ c & d << 1 >> 2 == ~e"
    );
    snap!(
        "logic",
        "from t where not a == 1 or b != 2 and c < 3 or d <= 4 and e > 5 and f >= 6"
    );
    snap!(
        "alternate_comparison_spellings",
        "from t where a = 1 and b <> 2"
    );
    snap!("like_in_is_null", "from t where comm like \"a%\" and comm not like $p and pid in (1, 2, 3) and tid not in (4) and mm is null and files is not null");
    snap!("parentheses", "from t where (a + b) * c == (d == e)");
    snap!("casts", "from tcp select cast(sk_common as tcp_sock), cast(sk as struct sock) as s, (x as u32) + 1 where sk_common as tcp_sock is not null and -a as u64 > 0");
    snap!("member_access_after_cast", "from tcp select (sk_common as tcp_sock).snd_cwnd as cwnd, cast(sk as tcp_sock).srtt_us >> 3");
    snap!(
        "paths_and_subscripts",
        "from ipv6_route select rt.fib6_nh[0].fib_nh_dev.name, task.real_parent.tgid, a[i + 1][2]"
    );
    snap!("literals", "from t where a == 1_000 or a == 0xFF_ff or a == 0b1010 or s == \"q\\\"\\\\\\n\\t\\0\\x41\" or b == true or c == false or d == null or e == 18446744073709551615");
    snap!(
        "calls",
        "from t select count(*), count(distinct comm), sum(x), min(a, b), now(), `count`(x)"
    );
}

#[test]
fn modules() {
    snap!(
        "module_every_item",
        "module:\n\
        use net.tcp;\n\
        --- The port to watch.\n\
        param $port: u16 = 22;\n\
        param offset = -5;\n\
        param name: str = \"x\";\n\
        --- Sockets that listen.\n\
        --- Two doc lines.\n\
        query listeners = from tcp where state == 10 and port == $port order by port;\n\
        --- Scheduler state.\n\
        column task.state = task.__state ?? task.state;\n\
        column tcp.rtt: u32 = (sk_common as tcp_sock).srtt_us >> 3 ?? 0;\n\
        --- Shown by `select *`.\n\
        defaults task: pid, comm;;\n\
        from task select *"
    );
    snap!("module_empty", "module:\n-- nothing here\n");
    snap!(
        "module_last_semicolon_optional",
        "module:\ncolumn task.pid = task.tgid"
    );
}

#[test]
fn stdlib_task_parses_with_docs_on_every_item() {
    let text = include_str!("../../../stdlib/task.bpfq");
    let module = match parse_module(text, 0) {
        Ok(module) => module,
        Err(diagnostic) => {
            let mut sources = Sources::new();
            sources.add("stdlib/task.bpfq", text);
            panic!("{}", diagnostic.render(&sources));
        }
    };
    let mut columns = Vec::new();
    for item in &module.items {
        match item {
            Item::Column(column) => {
                assert_eq!(column.target.name, "task");
                assert!(
                    !column.doc.is_empty(),
                    "column {} has no doc",
                    column.name.name
                );
                columns.push(column.name.name.as_str());
                if matches!(column.name.name.as_str(), "state" | "rss") {
                    assert_eq!(column.alternatives.len(), 2);
                }
            }
            Item::Defaults(defaults) => {
                let names: Vec<&str> = defaults.columns.iter().map(|c| c.name.as_str()).collect();
                assert_eq!(names, ["pid", "tid", "ppid", "uid", "comm"]);
            }
            other => panic!("unexpected item in stdlib/task.bpfq: {other:?}"),
        }
    }
    let expected = [
        "pid",
        "tid",
        "tgid",
        "ppid",
        "comm",
        "uid",
        "gid",
        "state",
        "prio",
        "nice",
        "threads",
        "vsize",
        "rss",
        "start_time",
        "start",
        "started",
        "age",
        "utime",
        "stime",
        "cpu_time",
        "exited_cpu_time",
        "state_letter",
        "tty",
        "netns",
        "env_size",
        "cgroup",
        "cgroup_id",
        "container",
    ];
    assert_eq!(columns, expected);
    snap!("stdlib_task", &format!("module:\n{text}"));
}

#[test]
fn spans_point_at_source_text() {
    let src = "from task select task.real_parent.tgid as ppid where comm like \"k%\"";
    let query = parse_query(src, 3).expect("valid query");
    assert_eq!(query.from.span.file, 3);
    let Some(Select::Items(items)) = &query.select else {
        panic!("expected select items");
    };
    let item = &items[0];
    assert_eq!(&src[item.span.range()], "task.real_parent.tgid as ppid");
    assert_eq!(&src[item.expr.span.range()], "task.real_parent.tgid");
    let alias = item.alias.as_ref().expect("alias");
    assert_eq!(&src[alias.span.range()], "ppid");
    let filter = query.filter.as_ref().expect("where");
    assert_eq!(&src[filter.span.range()], "comm like \"k%\"");
    let ExprKind::Like { pattern, .. } = &filter.kind else {
        panic!("expected like, got {:?}", filter.kind);
    };
    assert_eq!(&src[pattern.span.range()], "\"k%\"");
}

#[test]
fn selected_diagnostics() {
    snap!("err_misspelled_keyword", "from task selct pid");
    snap!(
        "err_misspelled_keyword_module",
        "module:\ncolum task.x = 1;"
    );
    snap!("err_chained_comparison", "from task where a == b == c");
    snap!("err_chained_mixed", "from task where a < b like c");
    snap!("err_missing_from", "select pid from task");
    snap!(
        "err_use_in_one_line_query",
        "use net.ports; from tcp select sport"
    );
    snap!("err_empty", "");
    snap!("err_empty_select", "from task select where pid == 1");
    snap!(
        "err_trailing_comma",
        "from task select pid, comm, where pid == 1"
    );
    snap!("err_unclosed_paren", "from task where (a == 1 and (b == 2)");
    snap!("err_unmatched_paren", "from task where a == 1)");
    snap!("err_mismatched_bracket", "from task select a[1)");
    snap!(
        "err_unterminated_string",
        "from task where comm == \"abc\nlimit 1"
    );
    snap!("err_bad_escape", "from task where comm == \"a\\qb\"");
    snap!(
        "err_int_too_large",
        "from task where pid == 18446744073709551616"
    );
    snap!("err_keyword_as_name", "from task select pid as order");
    snap!("err_clause_order", "from task where pid == 1 select comm");
    snap!("err_missing_operator", "from task where pid 5");
    snap!("err_missing_operand", "from task where pid ==");
}

/// Inputs that must each fail with a coded parse diagnostic and no panic.
const MALFORMED: &[&str] = &[
    "",
    "   -- only a comment",
    "from",
    "from task select",
    "from task select ,pid",
    "from task select pid,",
    "from task select pid comm",
    "from task select pid, *",
    "from task where",
    "from task where pid ==",
    "from task where == 1",
    "from task where a == b == c",
    "from task where a < b < c",
    "from task where (a == b) == c is null",
    "from task where x in ()",
    "from task where x in 1",
    "from task where x is",
    "from task where x not",
    "from task where (x",
    "from task where x)",
    "from task where a[1",
    "from task where \"abc",
    "from task where \"a\\q\"",
    "from task where \"\\x4\"",
    "from task where x == 0x",
    "from task where x == 99999999999999999999",
    "from task limit",
    "from task limit -1",
    "from task limit x",
    "from task order pid",
    "from task group by",
    "from task selct pid",
    "form task",
    "select pid from task",
    "task select pid",
    "from task(pid = ) select pid",
    "from task(pid = 1,) select pid",
    "from task as",
    "from task join",
    "from task join tcp",
    "from task select pid as",
    "from task select pid as order",
    "from task select cast(pid)",
    "from task select cast(pid as)",
    "from task select f(,)",
    "from task select count(*",
    "from task select `order",
    "from task select $",
    "from task select a.",
    "from task select 12abc",
    "from task select pid; from task",
    "from task where pid == 1 @",
    "from task where comm like",
    "from task select pid limit 1 where x",
    "from task select a ?? b",
];

const RULE_NAME_FRAGMENTS: &[&str] = &[
    "kw_",
    "op_",
    "expr_",
    "_clause",
    "_decl",
    "primary",
    "ident",
    "field_name",
    "param_ref",
    "EOI",
    "source_param",
    "select_item",
    "order_key",
    "type_name",
    "Rule::",
];

#[test]
fn malformed_inputs_give_coded_diagnostics() {
    let mut rendered = String::new();
    for src in MALFORMED {
        let mut sources = Sources::new();
        let file = sources.add("<query>", *src);
        let diagnostic = match parse_query(src, file) {
            Ok(query) => panic!("{src:?} parsed: {query:?}"),
            Err(diagnostic) => diagnostic,
        };
        assert!(diagnostic.code.starts_with("E0"), "{src:?}: {diagnostic:?}");
        assert_ne!(diagnostic.code, "E0901", "internal error for {src:?}");
        assert!(
            diagnostic.primary_span().is_some(),
            "{src:?} has no primary label"
        );
        let text = diagnostic.render(&sources);
        for fragment in RULE_NAME_FRAGMENTS {
            assert!(
                !text.contains(fragment),
                "{src:?} leaks {fragment:?}:\n{text}"
            );
        }
        rendered.push_str(&format!("==> {src}\n{text}\n"));
    }
    insta::assert_snapshot!("malformed_table", rendered);
}

#[test]
fn malformed_modules_give_coded_diagnostics() {
    for src in [
        "column task.x = ;",
        "column task = 1;",
        "column task.x 1;",
        "column task.x = a ?? ;",
        "param p = x;",
        "param = 1;",
        "use ;",
        "use a.;",
        "defaults task pid;",
        "defaults task: pid comm;",
        "query q = select x;",
        "query = from task;",
        "foo bar",
        "from task; select",
    ] {
        let diagnostic = parse_module(src, 0).expect_err(src);
        assert!(diagnostic.code.starts_with("E0"), "{src:?}: {diagnostic:?}");
        assert_ne!(diagnostic.code, "E0901", "internal error for {src:?}");
    }
}

#[test]
fn every_prefix_of_long_queries_parses_or_fails_cleanly() {
    let long_inputs = [
        "from task(pid = 42) as t join task_file(pid = $pid) as f on f.task == t.task select t.pid, cast(f.fd as u32) as fd, (sk as tcp_sock).snd_cwnd where t.comm not like \"k\\x41%\" and t.tid in (1, 0x2, 0b11) or not t.mm is not null group by t.comm having count(distinct t.tid) >= 2 order by fd desc, `order` limit 1_000;",
        "--- doc\ncolumn task.state: u32 = task.__state ?? task.state;\nparam $port: u16 = -22;\nuse a.b;\nquery q = from tcp where (a as tcp_sock).x[1 + 2] << 3 == ~4 % 5;\ndefaults task: pid, comm;",
    ];
    for input in long_inputs {
        for end in (0..=input.len()).filter(|&end| input.is_char_boundary(end)) {
            let prefix = &input[..end];
            for result in [
                parse_query(prefix, 0).map(|_| ()),
                parse_module(prefix, 0).map(|_| ()),
            ] {
                if let Err(diagnostic) = result {
                    assert!(
                        diagnostic.code.starts_with("E0"),
                        "{prefix:?}: {diagnostic:?}"
                    );
                    assert_ne!(diagnostic.code, "E0901", "internal error for {prefix:?}");
                }
            }
        }
    }
}

#[test]
fn deep_nesting_is_bounded_not_a_crash() {
    let nested = format!("from t where {}1{}", "(".repeat(40), ")".repeat(40));
    assert!(parse_query(&nested, 0).is_ok());
    let too_nested = format!("from t where {}1{}", "(".repeat(5000), ")".repeat(5000));
    assert_eq!(
        parse_query(&too_nested, 0).map(|_| ()).unwrap_err().code,
        "E0010"
    );
    let prefixes = format!("from t where {}1", "- ".repeat(1_000));
    assert_eq!(
        parse_query(&prefixes, 0).map(|_| ()).unwrap_err().code,
        "E0010"
    );
    let long_chain = format!("from t where 1{}", " + 1".repeat(2_000));
    assert_eq!(
        parse_query(&long_chain, 0).map(|_| ()).unwrap_err().code,
        "E0010"
    );
    let fine_chain = format!("from t where 1{}", " + 1".repeat(200));
    assert!(parse_query(&fine_chain, 0).is_ok());
}
