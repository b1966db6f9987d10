//! Test support: compile a query against the running kernel's BTF with features built by hand
//! (to run an older kernel's variant here), then load it through the runtime API and read the
//! raw rows it writes. The verifier must accept the program.

use bpfq_compiler::bpf::insn::encode;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::{Compiled, CompiledQuery, Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::{Btf, KernelFeatures};
use bpfq_runtime::loader::{load_iter_program, IterProgramSpec};
use bpfq_runtime::RowSource;
use std::ops::ControlFlow;
use std::sync::OnceLock;

/// The running kernel's BTF, read once per test binary.
pub fn vmlinux() -> &'static Btf {
    static BTF: OnceLock<Btf> = OnceLock::new();
    BTF.get_or_init(|| {
        Btf::from_file(std::path::Path::new("/sys/kernel/btf/vmlinux")).expect("vmlinux BTF")
    })
}

/// `query` (one source) compiled against the running kernel with `features`.
pub fn compile_with(query: &str, features: &KernelFeatures) -> Compiled {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib");
    let env = Compiler::new(vmlinux(), features, &stdlib, &sources);
    match env.compile(Input::File(file), Options::default()) {
        Ok(CompiledQuery::Single(compiled)) => *compiled,
        Ok(_) => panic!("one source"),
        Err(diag) => panic!("{}", diag.render(&sources)),
    }
}

/// Loads `compiled` (the verifier must accept it; `what` names it in the failure), attaches it
/// with the link info of its parameters, and returns every row it writes.
pub fn run_rows(compiled: &Compiled, what: &str) -> Vec<Vec<u8>> {
    let insns = encode(&compiled.program.insns);
    let spec = IterProgramSpec {
        name: &compiled.prog_name,
        insns: &insns,
        license: "GPL",
        attach_btf_id: compiled.plan.target.attach_func.0,
    };
    let program = load_iter_program(&spec, true)
        .unwrap_or_else(|err| panic!("the verifier refused the {what} program: {err:?}"));
    let link_info = match &compiled.plan.iter_params {
        Some(params) => params
            .link_info(&|_| Err("no cgroup".into()))
            .expect("link info"),
        None => None,
    };
    let link = program.attach(link_info.as_deref()).expect("attach");
    let mut reader = link.open().expect("iterator");
    let mut rows = Vec::new();
    reader
        .read_rows(compiled.plan.layout.size as usize, |row| {
            rows.push(row.to_vec());
            ControlFlow::Continue(())
        })
        .expect("read rows");
    rows
}
