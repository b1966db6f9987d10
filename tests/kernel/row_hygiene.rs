//! Kernel test of information hygiene in rows: a query whose row has alignment padding, a
//! boolean (stored only when true), a nullable column (NULL for kernel threads) and a wide
//! char array is compiled for the running kernel, loaded through the runtime API and read as raw
//! bytes. Every byte outside the columns' values and NULL flags is 0, a false boolean is 0 and a
//! NULL value is all zeroes: nothing from the BPF stack (which root may read uninitialised)
//! reaches user space.

use crate::common;

use bpfq_compiler::bpf::insn::encode;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::layout::{ColumnKind, RowLayout};
use bpfq_compiler::pipeline::{CompiledQuery, Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_runtime::loader::{load_iter_program, IterProgramSpec};
use bpfq_runtime::RowSource;
use common::*;
use std::ops::ControlFlow;

const QUERY: &str = "from task select cast(tid as u8) as small, task.mm.total_vm as vm, \
    cast(comm == \"bpfq-no-such\" as u8) as never, comm, cast(prio as u16) as p16, \
    task.real_parent.real_parent.real_parent.real_parent.pid as far, cast(tgid as u8) as last";

/// Row bytes that belong to no column value and no NULL flag.
fn unowned_bytes(layout: &RowLayout) -> Vec<usize> {
    let mut owned = vec![false; layout.size as usize];
    for column in &layout.columns {
        let start = column.offset as usize;
        owned[start..start + column.kind.width() as usize].fill(true);
        if let Some(flag) = column.null_flag {
            owned[flag as usize] = true;
        }
    }
    (0..owned.len()).filter(|&i| !owned[i]).collect()
}

#[test]
fn rows_hold_no_stray_stack_bytes() {
    let _k = shared_kernel();
    let btf = bpfq_kernel::Btf::from_file(std::path::Path::new("/sys/kernel/btf/vmlinux"))
        .expect("vmlinux BTF");
    let mut sources = Sources::new();
    let file = sources.add("<query>", QUERY);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib");
    let features = bpfq_kernel::KernelFeatures::from_btf(&btf).expect("features of the BTF");
    let env = Compiler::new(&btf, &features, &stdlib, &sources);
    let compiled = match env.compile(Input::File(file), Options::default()) {
        Ok(CompiledQuery::Single(compiled)) => compiled,
        Ok(_) => panic!("one source"),
        Err(diag) => panic!("{}", diag.render(&sources)),
    };
    let layout = &compiled.plan.layout;
    let padding = unowned_bytes(layout);
    assert!(
        !padding.is_empty(),
        "the query is meant to leave padding in the row: {layout:?}"
    );
    let insns = encode(&compiled.program.insns);
    let spec = IterProgramSpec {
        name: &compiled.prog_name,
        insns: &insns,
        license: "GPL",
        attach_btf_id: compiled.plan.target.attach_func.0,
    };
    let program = load_iter_program(&spec, false).expect("load");
    let link = program.attach(None).expect("attach");
    let mut reader = link.open().expect("iterator");
    let (mut rows, mut nulls) = (0, 0);
    reader
        .read_rows(layout.size as usize, |row| {
            rows += 1;
            for &at in &padding {
                assert_eq!(row[at], 0, "padding byte {at} of row {row:?}");
            }
            for column in &layout.columns {
                let value = &row[column.offset as usize..][..column.kind.width() as usize];
                if column.kind == ColumnKind::Bool || column.name == "never" {
                    assert_eq!(value, [0], "`never` is false in every row");
                }
                if let Some(flag) = column.null_flag {
                    assert!(row[flag as usize] <= 1, "flag of {}: {row:?}", column.name);
                    if row[flag as usize] == 1 {
                        nulls += 1;
                        assert!(
                            value.iter().all(|&b| b == 0),
                            "NULL {} holds {value:?}",
                            column.name
                        );
                    }
                }
            }
            ControlFlow::Continue(())
        })
        .expect("read rows");
    assert!(rows > 10, "{rows} rows");
    assert!(nulls > 0, "kernel threads have no mm: some values are NULL");
}
