//! `bpfq QUERY`: compile, load as an anonymous iterator, read binary rows, format them. Every
//! kernel object is held by an fd owned here, so it is released on every path, including early
//! exit (limit, closed pipe) and signals (the kernel closes the fds of a dying process).

use super::{args::{Common, Format, OutputArgs}, compile_query, open_btf, Failure};
use bpfq_compiler::bpf::insn::encode;
use bpfq_compiler::pipeline::Compiled;
use bpfq_runtime::decode::{decode_row, Value};
use bpfq_runtime::format::{new_sink, FormatOptions, OutputFormat, RowSink};
use bpfq_runtime::loader::{load_iter_program, IterProgramSpec, LoadError};
use std::cmp::Ordering;
use std::io;
use std::ops::ControlFlow;

pub fn run(query: &str, common: &Common, output: &OutputArgs) -> Result<(), Failure> {
    if common.btf.is_some() {
        return Err(Failure::Usage("--btf is for compile-only commands (explain, targets); a query runs against the running kernel".into()));
    }
    let btf = open_btf(None)?;
    let (compiled, _sources) = compile_query(query, &btf, common)?;
    let insns = encode(&compiled.program.insns);
    let spec = IterProgramSpec {
        name: &compiled.prog_name,
        insns: &insns,
        license: "GPL",
        attach_btf_id: compiled.plan.target.attach_func.0,
    };
    let program = load_iter_program(&spec, common.verbose).map_err(|e| load_failure(e, query, common.verbose))?;
    let link = program.attach(None).map_err(|e| load_failure(e, query, common.verbose))?;
    let mut reader = link.open().map_err(|e| load_failure(e, query, common.verbose))?;

    let stdout = io::stdout().lock();
    let out = io::BufWriter::with_capacity(64 * 1024, stdout);
    let options = FormatOptions { header: !output.no_header, show_kptrs: output.show_kptrs, ..FormatOptions::default() };
    let format = match output.output {
        Format::Table => OutputFormat::Table,
        Format::Csv => OutputFormat::Csv,
        Format::Json => OutputFormat::Json,
    };
    let mut sink = new_sink(format, out, options);
    let visible_layout = visible_layout(&compiled);
    let result = stream(&compiled, &mut reader, sink.as_mut(), &visible_layout);
    drop(reader);
    drop(link);
    drop(program);
    match result {
        Err(StreamError::Output(err)) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(StreamError::Output(err)) => Err(Failure::Runtime(format!("writing output failed: {err}"))),
        Err(StreamError::Read(err)) => Err(Failure::Runtime(err)),
        Ok(()) => Ok(()),
    }
}

enum StreamError {
    Output(io::Error),
    Read(String),
}

fn visible_layout(compiled: &Compiled) -> bpfq_compiler::layout::RowLayout {
    let mut layout = compiled.layout.clone();
    layout.columns = compiled.plan.user.visible.iter().map(|&i| compiled.layout.columns[i].clone()).collect();
    layout
}

/// Reads rows and hands the visible columns to the sink: streaming when no sort is needed
/// (stopping the iterator at the limit), else collecting, sorting and truncating.
fn stream(
    compiled: &Compiled,
    reader: &mut bpfq_runtime::reader::IterReader,
    sink: &mut dyn RowSink,
    visible_layout: &bpfq_compiler::layout::RowLayout,
) -> Result<(), StreamError> {
    let user = &compiled.plan.user;
    let row_size = compiled.layout.size as usize;
    sink.begin(visible_layout).map_err(StreamError::Output)?;
    let pick = |row: Vec<Value>| -> Vec<Value> { user.visible.iter().map(|&i| row[i].clone()).collect() };
    let limit = user.limit.map(|l| l as usize).unwrap_or(usize::MAX);
    if user.order_by.is_empty() {
        let mut written = 0usize;
        let mut output_error = None;
        if limit > 0 {
            reader
                .read_rows(row_size, |bytes| {
                    let values = pick(decode_row(&compiled.layout, bytes));
                    if let Err(err) = sink.row(&values) {
                        output_error = Some(err);
                        return ControlFlow::Break(());
                    }
                    written += 1;
                    if written >= limit { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
                })
                .map_err(|e| StreamError::Read(e.to_string()))?;
        }
        if let Some(err) = output_error {
            return Err(StreamError::Output(err));
        }
    } else {
        let mut rows = Vec::new();
        reader
            .read_rows(row_size, |bytes| {
                rows.push(decode_row(&compiled.layout, bytes));
                ControlFlow::Continue(())
            })
            .map_err(|e| StreamError::Read(e.to_string()))?;
        rows.sort_by(|a, b| {
            user.order_by
                .iter()
                .map(|key| {
                    let ord = compare_values(&a[key.column], &b[key.column]);
                    if key.descending { ord.reverse() } else { ord }
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        for row in rows.into_iter().take(limit) {
            sink.row(&pick(row)).map_err(StreamError::Output)?;
        }
    }
    sink.end().map_err(StreamError::Output)?;
    Ok(())
}

/// Total order for sorting: NULL first, then by value within a type.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    use Value::*;
    match (a, b) {
        (Null, Null) => Ordering::Equal,
        (Null, _) => Ordering::Less,
        (_, Null) => Ordering::Greater,
        (Int(x), Int(y)) => x.cmp(y),
        (UInt(x), UInt(y)) => x.cmp(y),
        (Int(x), UInt(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (UInt(x), Int(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (Bool(x), Bool(y)) => x.cmp(y),
        (Text(x), Text(y)) => x.cmp(y),
        (Enum { value: x, .. }, Enum { value: y, .. }) => x.cmp(y),
        (Pointer(x), Pointer(y)) => x.cmp(y),
        (Bytes(x), Bytes(y)) => x.cmp(y),
        _ => format!("{a:?}").cmp(&format!("{b:?}")),
    }
}

fn load_failure(err: LoadError, query: &str, verbose: bool) -> Failure {
    match &err {
        LoadError::Verifier { log, .. } => {
            let detail = if verbose { log.clone() } else { err.verifier_tail(8).unwrap_or_default() };
            let hint = if verbose { "" } else { "\n(run with --verbose for the full verifier log)" };
            Failure::Runtime(format!(
                "the kernel's verifier refused the program compiled from:\n  {query}\nverifier says:\n{detail}{hint}\nthis is a bug in bpfq: please report it with `bpfq explain` output"
            ))
        }
        _ => Failure::Runtime(err.to_string()),
    }
}
