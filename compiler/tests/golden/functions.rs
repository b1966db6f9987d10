//! Functions computed in user space (`upper`, `concat`, `now`...), compiled against the 6.18
//! fixture: the plan splits each query into what the program writes (the largest parts without
//! such a function, as kernel columns; the `and`-ed conditions without one, as its filter) and
//! what user space computes from them; every wrong call or wrong place is a coded diagnostic
//! (E0230-E0232) with its span.

use crate::common;

use bpfq_compiler::diagnostic::Diagnostic;
use bpfq_compiler::pipeline::{Input, Options};
use common::{fixture, with_env};

/// The plan, the kernel row and the user-space result columns of `query`, or its diagnostic.
fn check(query: &str) -> String {
    let btf = fixture("6.18");
    with_env(btf, query, |file, env| {
        match env.compile_single(Input::File(file), Options::default()) {
            Ok(c) => {
                let kernel: Vec<String> = c
                    .plan
                    .layout
                    .columns
                    .iter()
                    .map(|col| format!("{} {:?}", col.name, col.kind))
                    .collect();
                let projection = c.plan.user.projection.as_ref().expect("a projection");
                let result: Vec<String> = projection
                    .columns
                    .iter()
                    .zip(&projection.result_layout(&c.plan.layout).columns)
                    .map(|(col, shown)| format!("{} = {} ({:?})", col.name, col.expr, shown.kind))
                    .collect();
                format!(
                    "{}\nkernel row: {}\nresult: {}\nuser filter: {}\n",
                    c.plan.describe(),
                    kernel.join("; "),
                    result.join("; "),
                    projection
                        .filter
                        .as_ref()
                        .map_or("none".to_string(), |f| f.to_string()),
                )
            }
            Err(diag) => render(env, &diag),
        }
    })
}

fn render(env: &bpfq_compiler::pipeline::Compiler, diag: &Diagnostic) -> String {
    format!("{}\n{}", diag.code, diag.render(env.sources()))
}

#[test]
fn text_functions_are_computed_from_the_columns_the_program_writes() {
    snap!(
        "text_functions",
        "from task select pid, upper(comm), length(comm), substr(comm, 2, 3), concat(comm, \"-\", pid)"
    );
}

#[test]
fn numbers_and_times_are_formatted_in_user_space() {
    snap!(
        "number_functions",
        "from task select hex(pid), format_bytes(vsize * 2), coalesce(rss, 0), format_duration(start_time), now()"
    );
}

#[test]
fn a_filter_is_split_between_the_program_and_user_space() {
    snap!(
        "split_filter",
        "from task select pid where pid > 1 and upper(comm) == \"KTHREADD\" and tid == pid"
    );
}

#[test]
fn a_sort_by_a_computed_column_sorts_the_result_rows() {
    snap!(
        "sort_computed",
        "from task select pid, lower(comm) order by lower(comm) desc limit 3"
    );
}

#[test]
fn wrong_calls_and_wrong_places_are_coded_diagnostics() {
    let cases = [
        ("E0230", "from task select substr(comm)"),
        ("E0230", "from task select upper(comm, comm)"),
        ("E0230", "from task select now(1)"),
        ("E0231", "from task select upper(pid)"),
        ("E0231", "from task select concat(comm, task)"),
        ("E0205", "from task select hex(comm)"),
        ("E0232", "from task select count(*) group by upper(comm)"),
        (
            "E0232",
            "from task select count(*) where upper(comm) == \"SSHD\"",
        ),
        (
            "E0232",
            "from task_file join tcp on task_file.inode == tcp.inode select upper(comm)",
        ),
        ("E0232", "from task select cast(length(comm) as u8)"),
    ];
    let btf = fixture("6.18");
    let mut rendered = String::new();
    for (code, query) in cases {
        let text = with_env(btf, query, |file, env| {
            match env.compile(Input::File(file), Options::default()) {
                Ok(_) => panic!("{query} compiled"),
                Err(diag) => {
                    assert_eq!(diag.code, code, "{query}: {}", render(env, &diag));
                    render(env, &diag)
                }
            }
        });
        rendered.push_str(&format!("### {query}\n{text}\n"));
    }
    insta::assert_snapshot!(rendered);
}

#[test]
fn a_pinned_program_cannot_use_a_computed_value() {
    let btf = fixture("6.18");
    let text = with_env(
        btf,
        "from task select pid, upper(comm)",
        |file, env| match env.compile_single(Input::File(file), Options::text()) {
            Ok(_) => panic!("compiled for text output"),
            Err(diag) => render(env, &diag),
        },
    );
    assert!(text.starts_with("E0232"), "{text}");
    insta::assert_snapshot!(text);
}
