//! Stage `format`: typed rows -> text on a writer (table, CSV or JSON). Guarantees each format
//! writes only through its `io::Write` and renders kernel pointers hidden unless asked.

mod ascii;
pub mod change_rows;
mod csv;
mod escape;
mod fit;
mod json;
pub mod pointer;
mod table;
mod text;
mod textbuf;
pub mod time;

use std::io;

use bpfq_compiler::layout::RowLayout;

use crate::decode::Row;

pub use self::change_rows::ChangeSink;
pub use self::csv::CsvSink;
pub use self::json::JsonSink;
pub use self::pointer::{KeySource, PointerKey};
pub use self::table::TableSink;
pub use self::textbuf::TextBuf;

/// The output formats bpfq can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    Tsv,
    Json,
    JsonLines,
}

/// Choices shared by every format.
#[derive(Debug, Clone, Copy)]
pub struct FormatOptions {
    /// Write a header line with the column names (table and CSV).
    pub header: bool,
    /// Show kernel addresses as they are instead of hashed tokens.
    pub show_kptrs: bool,
    /// Key for hashing hidden pointers: the boot's (read when first needed), random per run, or
    /// fixed for reproducible output.
    pub pointer_key: KeySource,
    /// Fit the table into this many columns by cutting long text cells (a terminal's width);
    /// `None` never cuts (pipes, files, `--wide`). Other formats ignore it.
    pub max_width: Option<usize>,
}

impl Default for FormatOptions {
    fn default() -> FormatOptions {
        FormatOptions {
            header: true,
            show_kptrs: false,
            pointer_key: PointerKey::random().into(),
            max_width: None,
        }
    }
}

/// Receives a query's rows: `begin` once, `row` per row, `end` once.
pub trait RowSink {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()>;
    fn row(&mut self, row: &dyn Row) -> io::Result<()>;
    fn end(&mut self) -> io::Result<()>;
    /// A row that will be written later, shown before any `row` when all rows are in memory
    /// already (sorted, grouped, joined): a sink that sizes columns may measure it. Sinks that
    /// stream ignore it.
    fn preview(&mut self, _row: &dyn Row) {}
}

/// Sinks append each formatted line to a pending buffer and hand it to their writer once it
/// holds this much: one copy and one `write_all` per 64 KiB instead of per line (a `BufWriter`
/// of 64 KiB passes a write this large straight through). Rows still reach the reader long
/// before a large dump ends.
const WRITE_AT: usize = 64 * 1024;

/// Writes `pending` to `out` and empties it once it holds `WRITE_AT` bytes, or now with `all`.
fn write_pending(out: &mut impl io::Write, pending: &mut TextBuf, all: bool) -> io::Result<()> {
    if all || pending.len() >= WRITE_AT {
        out.write_all(pending.as_bytes())?;
        pending.clear();
    }
    Ok(())
}

/// The text of `cell` as every format writes it (pointers hidden unless `options` shows them),
/// or `None` for NULL: for consumers that are not a format (`bpfq serve`'s label values).
pub fn plain_text(cell: &crate::decode::Cell<'_>, options: &FormatOptions) -> Option<String> {
    let mut out = TextBuf::new();
    text::push_plain(&mut out, cell, options).then(|| out.into_string())
}

/// The sink for `format` writing to `out`.
pub fn new_sink<'w, W: io::Write + 'w>(
    format: OutputFormat,
    out: W,
    options: FormatOptions,
) -> Box<dyn RowSink + 'w> {
    match format {
        OutputFormat::Table => Box::new(TableSink::new(out, options)),
        OutputFormat::Csv => Box::new(CsvSink::new(out, options)),
        OutputFormat::Json => Box::new(JsonSink::new(out, options)),
        OutputFormat::JsonLines => Box::new(JsonSink::lines(out, options)),
        OutputFormat::Tsv => Box::new(CsvSink::tsv(out, options)),
    }
}
