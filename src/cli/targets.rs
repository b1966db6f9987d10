//! `bpfq targets`: the iterator targets found in BTF, with their context struct and main
//! object, in any output format.

use super::{
    args::{Common, OutputArgs},
    open_btf, output_format, Failure,
};
use bpfq_compiler::layout::{ColumnKind, RowLayout};
use bpfq_kernel::catalogue::{discover, type_name};
use bpfq_runtime::decode::Value;
use bpfq_runtime::format::{new_sink, FormatOptions};
use std::io;

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
    let text = |name: &str| (name.to_string(), ColumnKind::Chars { len: 64 }, false);
    let layout = RowLayout::pack([text("target"), text("context"), text("object")]);
    let options = FormatOptions {
        header: !output.no_header,
        ..FormatOptions::default()
    };
    let mut out = super::output::stdout();
    let written = (|| -> io::Result<()> {
        let mut sink = new_sink(output_format(output), &mut out, options);
        sink.begin(&layout)?;
        for t in &targets {
            let object = t
                .main_object
                .map(|i| format!("{} ({})", t.context[i].name, t.context[i].type_name))
                .unwrap_or_else(|| "-".into());
            let context = type_name(&btf, t.ctx_struct);
            sink.row(&[
                Value::Text(t.name.clone()),
                Value::Text(context),
                Value::Text(object),
            ])?;
        }
        sink.end()
    })();
    written.map_err(super::output::write_failure)?;
    super::output::finish(out)
}
