//! `bpfq targets`: the iterator targets found in BTF, with their context struct and main object.

use super::{
    args::{Common, OutputArgs},
    open_btf, Failure,
};
use bpfq_kernel::catalogue::{discover, type_name};

pub fn targets(common: &Common, _output: &OutputArgs) -> Result<(), Failure> {
    let btf = open_btf(common.btf.as_deref())?;
    let targets = discover(&btf)
        .map_err(|e| Failure::Runtime(format!("cannot list iterator targets: {e}")))?;
    let rows: Vec<[String; 3]> = targets
        .iter()
        .map(|t| {
            let object = t
                .main_object
                .map(|i| format!("{} ({})", t.context[i].name, t.context[i].type_name))
                .unwrap_or_else(|| "-".into());
            [
                t.name.clone(),
                format!(
                    "struct {}",
                    type_name(&btf, t.ctx_struct).trim_start_matches("struct ")
                ),
                object,
            ]
        })
        .collect();
    let header = ["TARGET", "CONTEXT", "OBJECT"];
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 3]| {
        format!(
            "{:<w0$}  {:<w1$}  {}",
            cells[0],
            cells[1],
            cells[2],
            w0 = widths[0],
            w1 = widths[1]
        )
    };
    let mut out = line(header) + "\n";
    for r in &rows {
        out += &(line([&r[0], &r[1], &r[2]]) + "\n");
    }
    print!("{out}");
    Ok(())
}
