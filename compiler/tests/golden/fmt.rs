//! `bpfq fmt` (stage: fmt): module text -> canonical text, snapshotted with insta (each
//! snapshot's description is its input). Every case is also checked for what the formatter
//! promises: formatting the output again changes nothing, the output parses to the same tree
//! and holds the same comments in the same order.

use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::syntax::format::{comments_of, verify, without_spans};
use bpfq_compiler::syntax::{format_module, parse_module};

/// The canonical form of `src`, or its rendered diagnostic.
fn format(src: &str) -> Result<String, String> {
    let mut sources = Sources::new();
    let file = sources.add("<fmt>", src);
    format_module(src, file).map_err(|diag| diag.render(&sources))
}

fn comment_texts(src: &str) -> Vec<String> {
    comments_of(src, 0)
        .expect("scans")
        .into_iter()
        .map(|comment| comment.text)
        .collect()
}

/// Formats `src` and checks the formatter's promises on the result (independently of the
/// formatter's own check: parse both, compare the trees and the comments here).
fn check(src: &str) -> String {
    let formatted = match format(src) {
        Ok(formatted) => formatted,
        Err(rendered) => return rendered,
    };
    assert_eq!(
        format(&formatted).as_deref(),
        Ok(formatted.as_str()),
        "not idempotent"
    );
    let before = parse_module(src, 0).expect("input parses");
    let after = parse_module(&formatted, 0).expect("output parses");
    assert_eq!(
        without_spans(&before),
        without_spans(&after),
        "meaning changed"
    );
    assert_eq!(
        comment_texts(src),
        comment_texts(&formatted),
        "comments changed"
    );
    for line in formatted.lines() {
        assert_eq!(line, line.trim_end(), "trailing whitespace");
    }
    formatted
}

#[test]
fn every_item_kind() {
    snap!("bare_query", "FROM task SELECT pid,comm WHERE pid==1");
    snap!(
        "items",
        "use net . tcp;param $port:u16=22;param name: string = \"sshd\";param neg = -5;param flag = true;param none = null;\
         query q=from tcp select src where sport==$port;\
         column tcp.listening:u8=cast(state==LISTEN as u8);\
         column task.state=task.__state??task.state;\
         defaults tcp:family,src,sport;\
         from task select *"
    );
    snap!(
        "metrics",
        "--- Sockets by state.\nMETRIC tcp_sockets=from tcp select state,count(*) as n group by state;\
         metric forks :counter=from task select uid,count(*) as n group by uid"
    );
    snap!(
        "two_bare_queries",
        "from task select pid; from tcp select sport;;"
    );
    snap!("empty", "");
    snap!("only_comments", "-- nothing here\n\n-- yet\n");
}

#[test]
fn every_clause() {
    snap!(
        "all_clauses",
        "from task(pid=$pid) as t join task_file as f on t.pid==f.pid select t.pid,count(*) as n,max(f.fd) \
         where f.fd>2 group by t.pid,t.comm having count(*)>1 order by n desc,t.pid asc limit 0x10"
    );
    snap!(
        "select_star_and_more",
        "from task select *, task.prio as prio"
    );
    snap!(
        "long_select_list_fills",
        "from task select pid, comm, ppid, task.real_parent.group_leader.comm as parent, \
         task.real_parent.real_parent.tgid as grandparent_pid, task.real_parent.real_parent.group_leader.comm as grandparent, uid, gid"
    );
    snap!(
        "long_where_breaks_before_operators",
        "from tcp select sport where state == LISTEN and family == 2 and sport != 22 and sport != 80 and (uid == 0 or uid == 1000 or uid == 65534)"
    );
    snap!(
        "long_column_alternatives",
        "column tcp.inode = if(sk_common.skc_state == TCP_TIME_WAIT or sk_common.skc_state == TCP_NEW_SYN_RECV, 0, cast(sk_common as struct sock).sk_ino) \
         ?? if(sk_common.skc_state == TCP_TIME_WAIT or sk_common.skc_state == TCP_NEW_SYN_RECV, 0, \
         cast(cast(sk_common as struct sock).sk_socket as struct socket_alloc).vfs_inode.i_ino);"
    );
}

#[test]
fn every_expression_kind() {
    snap!(
        "expressions",
        "from task select 1, 0XfF, 0b1_0, 1_000, \"s\", true, FALSE, NULL, $p, a.b[0].c, count(*), count(distinct pid), \
         f(), f(a, b), -x, ~x, NOT x, a LIKE \"b%\", a NOT LIKE \"b\", a IN (1, 2), a NOT IN (3), a IS NULL, a IS NOT NULL, \
         cast(x AS struct sock).y, (x as tcp_sock).snd_cwnd, f(x)[0], (a.b).c, (f(x).a).b"
    );
    snap!(
        "precedence_keeps_only_needed_parentheses",
        "from t select (a + b) * c, a + (b * c), (a - b) - c, a - (b - c), a or (b and c), (a or b) and c, \
         not (a and b), (not a) and b, -(a + b), -(-a), - - a, (a == b) == c, (a < b) is null, (a is null) == true, \
         ((a)), (a & 1) != 0, a & 1 != 0, a | b ^ c & d, (a | b) ^ c, 1 << (s >> 16), (x in (1)) == false"
    );
    snap!(
        "casts_and_aliases",
        "from t select x as u8, cast(x as u8) as y, (x as u8) as z, cast(cast(x as u16) as u8), (sk as tcp_sock).snd_cwnd as cwnd where x as u8 == 1"
    );
    snap!(
        "strings_escaped",
        r#"from t select "a\"b", "back\\slash", "nl\n tab\t nul\0", "\x41\x7f\x01", "é -- not a comment" where comm like "%\x25""#
    );
    snap!(
        "backquoted_names",
        "from `task` as `order` select `order`.pid as `select`, a.`order`, a.desc, `two words`, `count`, `9x` as from_x where `true` == 1"
    );
}

#[test]
fn comments_in_every_position() {
    snap!(
        "comments_around_items",
        "-- file header\n\n--- doc of x\n--- second line\nparam x = 1; -- after x\n-- between\n--- doc of q\nquery q = from task; -- after q\n\n-- at the end\n"
    );
    snap!(
        "comments_between_clauses",
        "-- head\nfrom task -- the target\n-- before select\nselect pid, -- first\n  comm -- second\n-- before where\nwhere pid > 1 -- filter\norder by pid -- order\n-- end\n"
    );
    snap!(
        "comments_inside_a_select_list",
        "from task select\n  -- leading\n  pid,\n  -- between\n  comm as name, -- trailing\n  tid"
    );
    snap!(
        "comments_inside_expressions",
        "from task select pid where pid == 1 -- one\n  and tid == 2 and -- after and\n  -- own line\n  comm == \"x\"\n  or f(a, -- arg\n  b)"
    );
    snap!(
        "comments_in_column_alternatives",
        "column task.state = -- new name\n  task.__state\n  -- before 5.14\n  ?? task.state; -- last\n"
    );
    snap!(
        "doc_comment_separated_by_a_blank_line_is_no_doc",
        "--- not a doc\n\ncolumn task.x = task.pid;\n---- separator\n--- doc\ncolumn task.y = task.pid;"
    );
}

/// A query at the parser's depth limits: the canonical form would add brackets (`(a & 1)`,
/// `cast(...)` for a postfix cast) past the limit, so the source's own brackets are kept.
#[test]
fn queries_at_the_depth_limit_keep_their_own_brackets() {
    let calls = format!(
        "from t select {}a & 1 == 0{}",
        "f(".repeat(48),
        ")".repeat(48)
    );
    let formatted = check(&calls);
    let words = formatted.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("f(a & 1 == 0)"), "{formatted}");
    let casts = format!(
        "from t select {}~a{}, -(-a) where a{} == 1",
        "~(".repeat(47),
        ")".repeat(47),
        " as u8".repeat(49)
    );
    snap!("depth_limit_keeps_source_brackets", &casts);
}

#[test]
fn parse_errors_are_reported_not_formatted() {
    snap!("parse_error", "from task select pid,");
}

#[test]
fn the_check_refuses_lost_comments_and_changed_meaning() {
    let src = "from task -- keep me\nselect pid";
    let lost = verify(src, "from task\nselect pid\n", 0).expect_err("lost comment accepted");
    assert_eq!(lost.code, "E0015");
    let mut sources = Sources::new();
    let file = sources.add("<fmt>", src);
    let lost = verify(src, "from task\nselect pid\n", file).expect_err("lost comment accepted");
    insta::assert_snapshot!("E0015", lost.render(&sources));
    let changed = verify(src, "from task -- keep me\nselect tid\n", file)
        .expect_err("changed query accepted");
    assert_eq!(changed.code, "E0904");
    insta::assert_snapshot!("E0904", changed.render(&sources));
    let reordered = verify("-- a\n-- b\nfrom task", "-- b\n-- a\nfrom task", 0);
    assert_eq!(reordered.map_err(|diag| diag.code), Err("E0015"));
    assert_eq!(verify(src, "from task -- keep me\nselect pid\n", 0), Ok(()));
}

/// Every example and stdlib file: canonical already (this branch formatted them), and
/// formatting keeps its tree and comments.
#[test]
fn repository_files_are_canonical() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut checked = 0;
    for dir in ["examples", "examples/serve", "stdlib"] {
        let mut paths: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
            .expect("directory")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "bpfq"))
            .collect();
        paths.sort();
        for path in paths {
            let src = std::fs::read_to_string(&path).expect("readable");
            let formatted = check(&src);
            assert!(
                formatted == src,
                "{} is not in canonical form: run `bpfq fmt --write {}`",
                path.display(),
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} files found");
}
