//! Golden tests of every compiler stage boundary against the Linux 6.18 BTF fixture kept in the
//! repo (never the host's BTF): bind output, IR, BPF listing and row layout for small queries.

use crate::common;

use bpfq_compiler::bind::Params;
use bpfq_compiler::bpf::disasm::disassemble;
use bpfq_compiler::diagnostic::Diagnostic;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::{Compiled, CompiledQuery, Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_compiler::syntax::parse_query;
use bpfq_kernel::Btf;

fn fixture() -> &'static Btf {
    common::fixture("6.18")
}

/// Runs `stage` on `query` against the fixture; a diagnostic is rendered instead.
fn with_env<T>(
    query: &str,
    stage: impl FnOnce(usize, &Compiler) -> Result<T, bpfq_compiler::diagnostic::Diagnostic>,
    show: impl FnOnce(T) -> String,
) -> String {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
    let params = Params::from_iter([("min".to_string(), "100".to_string())]);
    let features = bpfq_kernel::KernelFeatures::from_btf(fixture()).expect("features of the BTF");
    let env = Compiler::new(fixture(), &features, &stdlib, &sources).with_params(&params);
    match stage(file, &env) {
        Ok(value) => show(value),
        Err(diag) => diag.render(&sources),
    }
}

fn compile_single(file: usize, c: &Compiler) -> Result<Compiled, Diagnostic> {
    c.compile_single(Input::File(file), Options::default())
}

fn compile_any(file: usize, c: &Compiler) -> Result<CompiledQuery, Diagnostic> {
    c.compile(Input::File(file), Options::default())
}

/// A query that must compile against the fixture.
fn compile_ok(query: &str) -> bpfq_compiler::pipeline::Compiled {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
    let features = bpfq_kernel::KernelFeatures::from_btf(fixture()).expect("features of the BTF");
    let env = Compiler::new(fixture(), &features, &stdlib, &sources);
    env.compile_single(Input::File(file), Options::default())
        .unwrap_or_else(|d| panic!("{}", d.render(&sources)))
}

/// `bind` boundary: the typed query.
fn check_bind(query: &str) -> String {
    with_env(
        query,
        |file, env| env.bind(&parse_query(env.sources().text(file), file)?),
        |typed| typed.to_string(),
    )
}

/// `lower` boundary: the IR.
fn check_ir(query: &str) -> String {
    with_env(query, compile_single, |c| c.ir.to_string())
}

/// `emit` boundary: the BPF listing and the row layout.
fn check_bpf(query: &str) -> String {
    with_env(query, compile_single, |c| {
        let layout: Vec<String> = c
            .plan
            .layout
            .columns
            .iter()
            .map(|col| format!("{} @{} {:?}", col.name, col.offset, col.kind))
            .collect();
        format!(
            "{}\nrow {} bytes: {}\n",
            disassemble(&c.program, &|id| match id {
                1 => Some("bpf_map_lookup_elem".to_string()),
                2 => Some("bpf_map_update_elem".to_string()),
                127 => Some("bpf_seq_write".to_string()),
                130 => Some("bpf_ringbuf_output".to_string()),
                _ => None,
            }),
            c.plan.layout.size,
            layout.join("; ")
        )
    })
}

/// One golden test per line: `name: check_stage("query");` snapshots that stage's output (the
/// snapshot file is named after the test, as for a hand-written `#[test]`).
macro_rules! golden {
    ($($(#[$doc:meta])* $name:ident: $check:ident($query:expr);)*) => {$(
        $(#[$doc])*
        #[test]
        fn $name() {
            insta::assert_snapshot!($check($query));
        }
    )*};
}

golden! {
    bind_stdlib_columns_and_fields: check_bind("from task select pid, tid, tgid, comm, ppid, uid, state, nice, vsize");
    bind_paths_pointer_chains_and_aliases: check_bind("from task as t select t.real_parent.real_parent.comm, task.mm.total_vm, task.signal.nr_threads as threads, task.se.load.weight");
    bind_filter_with_text_and_params: check_bind("from task select pid where comm == \"sshd\" and (pid > $min or not uid != 0) and tid in (1, 2, 3)");
    bind_bitfield_and_array_index: check_bind("from task select task.sched_reset_on_fork, task.comm, task.sched_class, task.cpus_mask.bits[0]");
    bind_order_by_hidden_column_and_limit: check_bind("from task select comm order by pid desc, comm limit 10");
    ir_filter_short_circuit: check_ir("from task select pid, comm where pid == 1 or (tgid > 100 and comm != \"bash\")");
    ir_boolean_column_and_arithmetic: check_ir("from task select pid == tgid as leader, task.prio - 120 as nice, vsize / 1024");
    bpf_foundation_query: check_bpf("from task select pid, comm where tgid == 42");
    bpf_text_compare_with_wide_constant: check_bpf("from task select tid where comm == \"kworker/0:1H\"");
    ir_nullable_column_sets_its_null_flag: check_ir("from task select pid, task.mm.total_vm, task.real_parent.comm");
    ir_like_prefix_and_infix: check_ir("from task select pid where comm like \"kw%\" or comm like \"%d_\"");
    bind_casts_and_enumerators: check_bind("from task select cast(pid as u8), cast(-1 as u32), cast(task.prio - 200 as s16) where task.__state == TCP_CLOSE or TCP_LISTEN == 10");
    /// A string names an enum member as a bare name does: the three filters bind alike.
    bind_enum_compared_with_strings: check_bind("from tcp select sport where state == \"TCP_LISTEN\" or \"ESTABLISHED\" != state or state in (\"SYN_SENT\", TCP_CLOSE)");
    plan_having_enum_compared_with_a_string: check_plan("from tcp select state, count(*) as sockets group by state having state != \"LISTEN\"");
    bpf_union_member_shadowed_by_a_pointer_is_probe_read: check_bpf("from task select task.restart_block.nanosleep.type, task.restart_block.futex.val");
    bpf_pointer_cast_calls_bpf_rdonly_cast: check_bpf("from task select cast(task.real_parent as struct task_struct).tgid");
    bpf_small_structs_are_copied_whole: check_bpf("from ipv6_route select rt.fib6_dst.addr, rt.fib6_dst.plen");
    ir_conditions_as_values_go_through_a_stack_slot: check_ir("from task select cast(comm == \"bash\" as u8), if(task.mm is null, 0, task.mm.total_vm)");
    bind_star_and_more_columns: check_bind("from task select *, tgid as process, state");
    bpf_d_path_gets_the_address_of_the_struct_path_and_a_null_flag: check_bpf("from task_vma select d_path(vma.vm_file.f_path) as path");
    ir_kernfs_path_walks_eight_parents_unrolled_and_goes_null_when_deeper_or_cut: check_ir("from cgroup select id, path");
    bpf_kernfs_path_reads_parent_and_name_directly_and_names_with_probe_read_str: check_bpf("from cgroup select path");
    /// Four nullable 108-byte paths: 436 bytes, two segments, two ring records, one shared
    /// ring-full block that writes the 1-byte marker to the seq buffer.
    ir_unix_rows_go_to_the_ring_buffer_in_segments: check_ir("from unix select path, path as p2, path as p3, path as p4 where type == SOCK_STREAM");
    bpf_unix_ring_output_references_the_map_through_a_relocation: check_bpf("from unix select inode");
    plan_group_by_key_with_count_having_and_order: check_plan("from task select tgid, count(*) where comm == \"bash\" group by tgid having count(*) > 1 order by count(*) desc limit 3");
    plan_aggregates_alone_make_one_group: check_plan("from task select count(*), sum(vsize), avg(nice), min(comm), max(state), count(distinct uid)");
    plan_expression_keys_shared_columns_and_hidden_sort: check_plan("from task select uid / 1000 as band, comm, sum(vsize) / count(*) as mean where vsize > 0 group by band, comm order by max(vsize) desc, band");
    plan_group_by_enum_view_keeps_its_names: check_plan("from tcp select state, count(*) as sockets group by state having state != LISTEN");
    plan_join_sockets_with_their_processes: check_join("from task_file as f join tcp on f.inode == tcp.inode select f.pid, comm, tcp.sport, state where f.pid == 42 and tcp.state == LISTEN and fd > 2 and tcp.uid != f.fd order by sport desc, tcp.dport limit 5");
    /// Three sources, left-deep: the third is keyed on the first; each `where` condition runs in
    /// its source's program, the one comparing two sources after the third is joined.
    plan_join_three_sources: check_join("from task_file as f join tcp on f.inode == tcp.inode join task as t on t.pid == f.pid select t.comm, f.fd, tcp.sport, t.ppid where tcp.state == LISTEN and t.tid == t.pid and f.fd > 2 and t.uid != tcp.uid order by f.fd");
    ir_kernel_grouping_updates_the_group_map_instead_of_writing_rows: check_ir("from task select tgid, count(*), sum(vsize), min(nice), max(tid), avg(nice) group by tgid");
}

/// Twelve distinct int fields of task_struct.
const FIELDS: [&str; 12] = [
    "flags",
    "ptrace",
    "on_cpu",
    "recent_used_cpu",
    "wake_cpu",
    "on_rq",
    "prio",
    "static_prio",
    "normal_prio",
    "rt_priority",
    "exit_code",
    "exit_signal",
];

/// `a + (b + (... + l))` over distinct fields: every left operand stays live while the right
/// side is computed, more values than registers, so some go to stack slots below the row.
pub fn deep_sum(depth: usize) -> String {
    FIELDS[..depth]
        .iter()
        .map(|f| format!("task.{f}"))
        .collect::<Vec<_>>()
        .join(" + (")
        + &")".repeat(depth - 1)
}

#[test]
fn bpf_deep_expression_spills_to_the_stack() {
    let out = check_bpf(&format!("from task select {} as s", deep_sum(12)));
    assert!(
        out.contains("*(u64 *)(r10 -16) = r"),
        "expected a spill store below the 8-byte row:\n{out}"
    );
    insta::assert_snapshot!(out);
}

/// Every stdlib column of `task`, bound against a kernel's BTF: name, type (or why not).
fn describe_columns(btf: &Btf) -> String {
    common::stdlib_columns(btf, "task")
        .into_iter()
        .map(|c| {
            format!(
                "{:<8} {}\n",
                c.name,
                c.ty.unwrap_or_else(|e| format!("unavailable: {e}"))
            )
        })
        .collect()
}

#[test]
fn stdlib_task_columns_bind_on_every_fixture_kernel() {
    let mut all = String::new();
    for version in common::VERSIONS {
        let btf = common::fixture(version);
        let text = describe_columns(btf);
        assert!(!text.contains("unavailable"), "{version}:\n{text}");
        all.push_str(&format!("## Linux {version}\n{text}"));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn ring_relocations_are_patched_with_the_map_fd_and_explained_in_the_plan() {
    use bpfq_compiler::bpf::asm::{MapRelocation, MAP_FD_PLACEHOLDER};
    use bpfq_compiler::bpf::insn::{decode, Insn};
    use bpfq_compiler::ir::MapRef;
    let compiled = compile_ok("from unix select inode");
    let (relocations, program, plan) = (
        compiled.program.relocations.clone(),
        compiled.program.clone(),
        compiled.plan.describe(),
    );
    let [MapRelocation {
        slot,
        map: MapRef::RowRing,
    }] = relocations[..]
    else {
        panic!("one ring reference: {relocations:?}");
    };
    let placeholder = program.insns[slot];
    assert!(
        placeholder.is_ld_imm64() && placeholder.src == 1,
        "BPF_PSEUDO_MAP_FD"
    );
    assert_eq!(placeholder.imm, MAP_FD_PLACEHOLDER);
    let patched: Vec<Insn> = decode(&program.to_bytes_with_maps(|_| 42)).expect("whole slots");
    assert_eq!(patched[slot].imm, 42);
    let changed: Vec<usize> = (0..patched.len())
        .filter(|&i| patched[i] != program.insns[i])
        .collect();
    assert_eq!(changed, vec![slot], "only the map reference changes");
    assert!(plan.contains("rows via:    ring buffer map"), "{plan}");
    let seq_plan = compile_ok("from task select pid").plan.describe();
    assert!(seq_plan.contains("rows via:    seq_file"), "{seq_plan}");
}

/// `plan` boundary of a grouped query: what the kernel writes (filter, key and argument
/// columns) and what user space computes (groups, aggregates, having, sort, limit).
fn check_plan(query: &str) -> String {
    with_env(query, compile_single, |c| {
        let layout: Vec<String> = c
            .plan
            .layout
            .columns
            .iter()
            .map(|col| format!("{} {:?}", col.name, col.kind))
            .collect();
        let result: Vec<String> = c
            .plan
            .user
            .grouping
            .as_ref()
            .map(|g| {
                g.result_layout(&c.plan.layout)
                    .columns
                    .iter()
                    .map(|col| format!("{} {:?}", col.name, col.kind))
                    .collect()
            })
            .unwrap_or_default();
        format!(
            "{}\nkernel row: {}\nresult: {}\nvisible: {:?}\n\n{}",
            c.plan.describe(),
            layout.join("; "),
            result.join("; "),
            c.plan.user.visible,
            with_env(
                query,
                |file, env| env.bind(&parse_query(env.sources().text(file), file)?),
                |t| t.to_string()
            )
        )
    })
}

/// A join: one program per source (its columns, keys and `where` conditions) and the user-space
/// hash join.
fn check_join(query: &str) -> String {
    with_env(query, compile_any, |c| {
        let CompiledQuery::Join(join) = c else {
            return "not a join".to_string();
        };
        let mut out = format!("{:#?}\n{}", join.join, join.join.describe());
        for (name, side) in join.join.names.iter().zip(&join.sides) {
            let layout: Vec<String> = side
                .plan
                .layout
                .columns
                .iter()
                .map(|col| format!("{} {:?}", col.name, col.kind))
                .collect();
            out.push_str(&format!(
                "\n-- source {name}\n{}kernel row: {}\n",
                side.plan.describe(),
                layout.join("; ")
            ));
        }
        out
    })
}

#[test]
fn bpf_kernel_grouping_by_comm_with_a_nullable_argument() {
    let compiled = compile_ok("from task select comm, count(vsize), sum(vsize) group by comm");
    assert!(
        matches!(
            compiled.plan.group_place,
            Some(bpfq_compiler::group_place::GroupPlace::Kernel(_))
        ),
        "{}",
        compiled.plan.describe()
    );
    assert!(compiled
        .program
        .relocations
        .iter()
        .all(|r| r.map == bpfq_compiler::ir::MapRef::Groups));
    insta::assert_snapshot!(format!(
        "{}\n{}",
        compiled.plan.describe(),
        check_bpf("from task select comm, count(vsize), sum(vsize) group by comm")
    ));
}

#[test]
fn plan_grouping_falls_back_to_user_space_with_a_reason() {
    let reasons: Vec<String> = [
        "from task select comm, count(distinct tid) group by comm",
        "from task select tgid, min(comm) group by tgid",
        "from task_file select d_path(file.f_path) as p, count(*) group by p",
        "from cgroup select path, count(*) group by path",
        "from ksym select type, count(*) group by type",
        "from bpf_map select type, count(*) group by type",
        "from task select tgid, sum(vsize) group by tgid",
    ]
    .iter()
    .map(|query| {
        let plan = compile_ok(query).plan;
        let place = plan.group_place.expect("a grouped query is placed");
        format!("{query}\n  grouping: {}", place.describe())
    })
    .collect();
    insta::assert_snapshot!(reasons.join("\n"));
}

/// `lower` boundary: a struct, union or array column lists where its kernel addresses sit,
/// at any depth, from the BTF; ksym's address held in an integer is a pointer column.
#[test]
fn pointer_slots_of_aggregate_columns() {
    let kinds = |query: &str| -> Vec<String> {
        compile_ok(query)
            .plan
            .layout
            .columns
            .iter()
            .map(|c| format!("{} {:?}", c.name, c.kind))
            .collect()
    };
    assert_eq!(
        kinds("from task select task.tasks, task.pid_links, task.rcu_read_unlock_special"),
        [
            "task.tasks Bytes { len: 16, pointers: [0, 8] }",
            // hlist_node[4]: next and pprev of each element.
            "task.pid_links Bytes { len: 64, pointers: [0, 8, 16, 24, 32, 40, 48, 56] }",
            // A union of integers only.
            "task.rcu_read_unlock_special Bytes { len: 4, pointers: [] }",
        ]
    );
    assert_eq!(
        kinds("from tcp select sk_common.skc_net, sk_common.skc_v6_daddr"),
        [
            // possible_net_t holds its `struct net *` one struct down.
            "sk_common.skc_net Bytes { len: 8, pointers: [0] }",
            "sk_common.skc_v6_daddr Ipv6",
        ]
    );
    assert_eq!(
        kinds("from task_file select file.f_path"),
        ["file.f_path Bytes { len: 16, pointers: [0, 8] }"]
    );
    assert_eq!(
        kinds("from ksym select ksym.value, address"),
        ["ksym.value KernelPointer", "address KernelPointer"]
    );
}
