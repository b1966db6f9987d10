//! CLI: `bpfq pin QUERY PATH` and `bpfq unpin PATH` (stages 0-8 with text output, then the
//! link is pinned instead of read). Guarantees: the query is compiled and the path checked
//! before anything is loaded; a failure leaves no BPF object and no file behind.

use super::args::Common;
use super::run::load_failure;
use super::{compile_text_query, open_kernel_probed, Failure};
use bpfq_compiler::bind::IterParams;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::elf::{write_object, ObjectSpec};
use bpfq_runtime::execute::link_info;
use bpfq_runtime::pin::{check_pin_path, pin_iterator, PinError, PinRequest};
use std::path::Path;

pub fn pin(query: &str, path: &Path, mode: u32, common: &Common) -> Result<(), Failure> {
    let kernel = open_kernel_probed(common.btf.as_deref())?;
    let (compiled, _sources) = compile_text_query(query, &kernel, common)?;
    if let Some(IterParams::Netns(_)) = &compiled.plan.iter_params {
        return Err(Failure::Usage(
            "a pinned network query cannot take `netns = ...`: it shows the network namespace \
             of the process that reads the pin (run `cat` under `ip netns exec` instead)"
                .into(),
        ));
    }
    check_pin_path(path, mode).map_err(pin_failure)?;
    // A map-element query's link holds its map: the fd is needed only until the link exists.
    let (link_info, _map_fd) =
        link_info(compiled.plan.iter_params.as_ref()).map_err(super::output::run_failure)?;
    let request = PinRequest {
        prog_name: &compiled.prog_name,
        program: &compiled.program,
        attach_btf_id: compiled.plan.target.attach_func.0,
        link_info: link_info.as_deref(),
        path,
        mode,
    };
    pin_iterator(&request, common.verbose).map_err(|err| match err {
        PinError::Load(err) => load_failure(err, query, &compiled.program, common.verbose),
        other => pin_failure(other),
    })
}

/// `bpfq compile QUERY -o FILE`: the text-output program as an ELF object.
pub fn compile_object(query: &str, output: &Path, common: &Common) -> Result<(), Failure> {
    let kernel = open_kernel_probed(common.btf.as_deref())?;
    let (compiled, _sources) = compile_text_query(query, &kernel, common)?;
    if compiled.plan.iter_params.is_some() {
        return Err(Failure::Usage(
            "a compiled object cannot carry target parameters (pid, cgroup, netns, map): \
             libbpf tools attach it to every object of the target; filter with `where` instead"
                .into(),
        ));
    }
    let spec = ObjectSpec {
        program: &compiled.program,
        target: &compiled.plan.target.name,
        function: &compiled.prog_name,
        context_struct: &compiled.plan.target.ctx_struct_name,
    };
    let bytes = write_object(&spec).map_err(|err| Failure::Runtime(err.to_string()))?;
    std::fs::write(output, bytes)
        .map_err(|err| Failure::Runtime(format!("writing {}: {err}", output.display())))
}

pub fn unpin(path: &Path) -> Result<(), Failure> {
    bpfq_runtime::pin::unpin(path).map_err(pin_failure)
}

/// A refusal as its coded diagnostic (a bad `--mode` is a usage error, exit 2), anything else
/// as text.
fn pin_failure(err: PinError) -> Failure {
    match (err.diagnostic(), &err) {
        (Some(diag), PinError::ModeBits { .. }) => {
            Failure::Compile(Box::new(diag), Box::new(Sources::new()))
        }
        (Some(diag), _) => Failure::Refused(Box::new(diag)),
        (None, _) => Failure::Runtime(err.to_string()),
    }
}
