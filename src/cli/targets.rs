//! `bpfq targets`: the iterator targets found in BTF, with their context struct and main
//! object, in any output format.

use super::{
    args::{Common, OutputArgs},
    open_btf, Failure,
};
use bpfq_kernel::catalogue::{discover, type_name};

pub fn targets(common: &Common, output: &OutputArgs) -> Result<(), Failure> {
    let btf = open_btf(common.btf.as_deref())?;
    let targets = discover(&btf).map_err(|e| {
        let message = format!("cannot list iterator targets: malformed BTF: {e}");
        // A broken `--btf FILE` is bad input (exit 2), like an unreadable one; the running
        // kernel's BTF is not the user's input.
        match common.btf {
            Some(_) => Failure::Usage(message),
            None => Failure::Runtime(message),
        }
    })?;
    let rows = targets.iter().map(|t| {
        let object = t
            .main_object
            .map(|i| format!("{} ({})", t.context[i].name, t.context[i].type_name))
            .unwrap_or_else(|| "-".into());
        vec![t.name.clone(), type_name(&btf, t.ctx_struct), object]
    });
    super::output::write_text_rows(&["target", "context", "object"], 64, rows, output)
}
