//! Stage `format`: rows as an aligned text table. Guarantees one line per row (control and
//! bidi characters in text are shown escaped, `\x1b`, `\u{202e}`), numbers right-aligned,
//! everything else left-aligned, no trailing spaces; with `max_width` (a terminal), long text
//! and hex cells are cut with `…` so lines fit when they can. Streams in bounded memory: the column widths come from the first
//! `WINDOW` rows (from every row when there are fewer, or when the pipeline `preview`s rows it
//! holds anyway for a sort), which are held, then printed after the header; each later row is
//! printed as it arrives. A later cell wider than its column widens that column from then on
//! (lines already out stay as they were), except a text cell on a terminal, which is cut to
//! its column like any other.

use std::io;

use bpfq_compiler::layout::{ColumnKind, RowLayout};

use super::escape::{self, Backslash};
use super::textbuf::char_count;
use super::{ascii, fit, text, write_pending, FormatOptions, RowSink, TextBuf};
use crate::decode::Row;

const NULL_TEXT: &str = "NULL";
const COLUMN_GAP: &str = "  ";

/// Rows held to size the columns before anything is printed. 256 rows show the usual widths
/// of a column, and their cells stay far below a megabyte even for wide rows.
pub const WINDOW: usize = 256;

pub struct TableSink<W: io::Write> {
    out: W,
    options: FormatOptions,
    names: Vec<TextBuf>,
    right_aligned: Vec<bool>,
    /// Text and hex columns, which may be cut to fit; numbers, names and addresses never are.
    cuttable: Vec<bool>,
    /// Rows held until the widths are settled (at most `WINDOW`).
    held: Vec<Vec<TextBuf>>,
    /// The widest cell of each column among the rows `preview` showed, if it showed any.
    previewed: Option<Vec<usize>>,
    /// The widths in use, once the header is out.
    widths: Option<Vec<usize>>,
    /// The cells of the row being printed, reused from row to row.
    cells: Vec<TextBuf>,
    /// One value's plain text, before escaping.
    scratch: String,
    /// The cell being printed by a streamed row.
    cell: TextBuf,
    /// Lines not yet written (the last one may be in progress).
    line: TextBuf,
}

impl<W: io::Write> TableSink<W> {
    pub fn new(out: W, options: FormatOptions) -> TableSink<W> {
        TableSink {
            out,
            options,
            names: Vec::new(),
            right_aligned: Vec::new(),
            cuttable: Vec::new(),
            held: Vec::new(),
            previewed: None,
            widths: None,
            cells: Vec::new(),
            scratch: String::new(),
            cell: TextBuf::new(),
            line: TextBuf::new(),
        }
    }

    /// Fills `self.cells` with the escaped text of each cell of `row`.
    fn render(&mut self, row: &dyn Row) {
        let count = row.cell_count();
        self.cells.resize_with(count, TextBuf::new);
        for (index, cell) in self.cells.iter_mut().enumerate() {
            cell.clear();
            if !text::push_plain(cell, &row.cell(index), &self.options) {
                cell.push_str(NULL_TEXT);
            } else if needs_escaping(cell.as_bytes()) {
                // Rare: the text goes through the scratch buffer to be escaped.
                self.scratch.clear();
                self.scratch.push_str(&cell.text_from(0));
                cell.clear();
                push_one_line(cell, &self.scratch);
            }
        }
    }

    fn header_widths(&self) -> Vec<usize> {
        if self.options.header {
            self.names
                .iter()
                .map(|n| display_width(n.as_bytes()))
                .collect()
        } else {
            vec![0; self.names.len()]
        }
    }

    /// Decides the widths from the header, the held rows and the previewed ones, then prints
    /// the header and the held rows.
    fn settle(&mut self) -> io::Result<()> {
        let header = self.header_widths();
        let mut widths = header.clone();
        let measured = self.held.iter().map(|row| row.as_slice());
        for row in measured {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(display_width(cell.as_bytes()));
            }
        }
        for (width, &seen) in widths.iter_mut().zip(self.previewed.iter().flatten()) {
            *width = (*width).max(seen);
        }
        if let Some(max_width) = self.options.max_width {
            widths = fit::fit_widths(
                &widths,
                &header,
                &self.cuttable,
                COLUMN_GAP.len(),
                max_width,
            );
        }
        if self.options.header {
            let names = std::mem::take(&mut self.names);
            let written = self.write_line(&names, &widths);
            self.names = names;
            written?;
        }
        // The window's memory goes back once it is printed.
        let held = std::mem::take(&mut self.held);
        for row in &held {
            self.write_line(row, &widths)?;
        }
        self.widths = Some(widths);
        Ok(())
    }

    /// Prints `row` with the settled widths, widening a column whose new cell is wider (unless
    /// it is text on a terminal: then the cell is cut).
    fn write_streamed(&mut self, row: &dyn Row) -> io::Result<()> {
        let Some(widths) = self.widths.as_mut() else {
            return Ok(());
        };
        let (line, cell) = (&mut self.line, &mut self.cell);
        let line_start = line.len();
        let count = row.cell_count();
        let mut scratch: ascii::Scratch = [0; 40];
        for index in 0..count {
            if index > 0 {
                line.push_str(COLUMN_GAP);
            }
            let value = row.cell(index);
            // Numbers, addresses and names are printable ASCII by type: copied once, no checks.
            let quick = ascii::quick_text(&value, &mut scratch);
            let natural = match quick {
                Some(text) => text.len(),
                None => {
                    cell.clear();
                    if !text::push_slow(cell, &value, &self.options) {
                        cell.push_str(NULL_TEXT);
                    }
                    // One look at the bytes decides both escaping and width for the usual cell.
                    let printable = ascii::is_printable(cell.as_bytes());
                    if !printable && needs_escaping(cell.as_bytes()) {
                        self.scratch.clear();
                        self.scratch.push_str(&cell.text_from(0));
                        cell.clear();
                        push_one_line(cell, &self.scratch);
                    }
                    if printable {
                        cell.len()
                    } else {
                        display_width(cell.as_bytes())
                    }
                }
            };
            let cut_instead = self.options.max_width.is_some()
                && self.cuttable.get(index).copied().unwrap_or(false);
            let width = match widths.get_mut(index) {
                Some(width) if cut_instead => *width,
                Some(width) => {
                    *width = (*width).max(natural);
                    *width
                }
                None => natural,
            };
            let padding = width.saturating_sub(natural);
            let right = self.right_aligned.get(index).copied().unwrap_or(false);
            if right {
                push_spaces(line, padding);
            }
            match quick {
                Some(text) if natural > width => {
                    fit::push_cut(line, std::str::from_utf8(text).unwrap_or_default(), width)
                }
                Some(text) => line.push_ascii(text),
                None if natural > width => fit::push_cut(line, &cell.text_from(0), width),
                None => line.push_buf(cell),
            }
            if !right && index + 1 != count {
                push_spaces(line, padding);
            }
        }
        let kept = line_start + trimmed_len(line.bytes_from(line_start));
        line.truncate(kept);
        line.push('\n');
        write_pending(&mut self.out, line, false)
    }

    fn write_line(&mut self, cells: &[TextBuf], widths: &[usize]) -> io::Result<()> {
        let line = &mut self.line;
        let line_start = line.len();
        let last = cells.len().saturating_sub(1);
        for (index, cell) in cells.iter().enumerate() {
            let natural = display_width(cell.as_bytes());
            let width = widths.get(index).copied().unwrap_or(natural);
            let right = self.right_aligned.get(index).copied().unwrap_or(false);
            let padding = width.saturating_sub(natural);
            if index > 0 {
                line.push_str(COLUMN_GAP);
            }
            if right {
                push_spaces(line, padding);
            }
            if natural <= width {
                line.push_buf(cell);
            } else {
                fit::push_cut(line, &cell.text_from(0), width);
            }
            if !right && index != last {
                push_spaces(line, padding);
            }
        }
        let kept = line_start + trimmed_len(line.bytes_from(line_start));
        line.truncate(kept);
        line.push('\n');
        write_pending(&mut self.out, line, false)
    }
}

const SPACES: &str = "                                                                ";

fn push_spaces(line: &mut TextBuf, mut count: usize) {
    while count > 0 {
        let chunk = count.min(SPACES.len());
        line.push_str(&SPACES[..chunk]);
        count -= chunk;
    }
}

fn display_width(cell: &[u8]) -> usize {
    char_count(cell)
}

/// The length of `line` without its trailing spaces.
fn trimmed_len(line: &[u8]) -> usize {
    line.iter()
        .rposition(|&b| b != b' ')
        .map_or(0, |last| last + 1)
}

/// Whether UTF-8 `text` holds a character that is shown escaped.
fn needs_escaping(text: &[u8]) -> bool {
    escape::needs_escaping(text, Backslash::Literal)
}

/// Appends `text` with control and bidi characters escaped (`escape.rs`), so a cell never
/// breaks the line or reorders what follows it.
fn push_one_line(out: &mut TextBuf, text: &str) {
    escape::push_text(out, text, Backslash::Literal);
}

impl<W: io::Write> RowSink for TableSink<W> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        self.names = layout
            .columns
            .iter()
            .map(|c| {
                let mut name = TextBuf::new();
                push_one_line(&mut name, &c.name);
                name
            })
            .collect();
        self.right_aligned = layout
            .columns
            .iter()
            .map(|c| matches!(c.kind, ColumnKind::Int { .. } | ColumnKind::Float))
            .collect();
        self.cuttable = layout
            .columns
            .iter()
            .map(|c| {
                matches!(
                    c.kind,
                    ColumnKind::Chars { .. }
                        | ColumnKind::Bytes { .. }
                        | ColumnKind::KernfsPath { .. }
                        | ColumnKind::DentryPath { .. }
                )
            })
            .collect();
        self.held.clear();
        self.previewed = None;
        self.widths = None;
        Ok(())
    }

    fn preview(&mut self, row: &dyn Row) {
        self.render(row);
        let previewed = self
            .previewed
            .get_or_insert_with(|| vec![0; self.names.len()]);
        for (width, cell) in previewed.iter_mut().zip(&self.cells) {
            *width = (*width).max(display_width(cell.as_bytes()));
        }
    }

    fn row(&mut self, row: &dyn Row) -> io::Result<()> {
        if self.widths.is_none() && self.previewed.is_some() {
            // Every row was measured already: nothing needs holding.
            self.settle()?;
        }
        if self.widths.is_some() {
            return self.write_streamed(row);
        }
        self.render(row);
        self.held.push(self.cells.clone());
        if self.held.len() >= WINDOW {
            self.settle()?;
        }
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        if self.widths.is_none() {
            self.settle()?;
        }
        write_pending(&mut self.out, &mut self.line, true)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Value;

    fn layout() -> RowLayout {
        RowLayout::pack([
            (
                "n".to_string(),
                ColumnKind::Int {
                    bytes: 8,
                    signed: false,
                },
                false,
            ),
            ("name".to_string(), ColumnKind::Chars { len: 64 }, false),
            ("tail".to_string(), ColumnKind::Chars { len: 8 }, false),
        ])
    }

    fn row(n: u64, name: &str) -> [Value; 3] {
        [
            Value::UInt(n),
            Value::Text(name.to_string()),
            Value::Text("t".to_string()),
        ]
    }

    /// The table of `rows` (previewed first when `preview`), as lines.
    fn table(rows: &[[Value; 3]], preview: bool, max_width: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        let options = FormatOptions {
            max_width,
            ..FormatOptions::default()
        };
        let mut sink = TableSink::new(&mut out, options);
        sink.begin(&layout()).expect("begin");
        if preview {
            for r in rows {
                sink.preview(r);
            }
        }
        for r in rows {
            sink.row(r).expect("row");
        }
        sink.end().expect("end");
        drop(sink);
        String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Where the last column (`tail`) starts on `line`: after the last column gap (no cell
    /// holds two spaces), in characters.
    fn tail_at(line: &str) -> usize {
        let byte = line.rfind(COLUMN_GAP).expect("a gap") + COLUMN_GAP.len();
        line[..byte].chars().count()
    }

    #[test]
    fn a_wider_cell_after_the_window_widens_its_column_from_then_on() {
        let mut rows: Vec<[Value; 3]> = (0..WINDOW as u64 + 10).map(|n| row(n, "ab")).collect();
        rows[WINDOW + 3] = row(7, "a-much-longer-name");
        let lines = table(&rows, false, None);
        assert_eq!(lines.len(), rows.len() + 1, "header and one line per row");
        assert_eq!(lines[0], "  n  name  tail");
        let before = tail_at(&lines[1]);
        assert!(lines[..=WINDOW + 3].iter().all(|l| tail_at(l) == before));
        let widened = tail_at(&lines[WINDOW + 4]);
        assert_eq!(widened, before + "a-much-longer-name".len() - "name".len());
        assert!(lines[WINDOW + 4..].iter().all(|l| tail_at(l) == widened));
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn the_window_sizes_the_columns_and_previewed_rows_size_all() {
        let mut rows: Vec<[Value; 3]> = (0..WINDOW as u64 + 10).map(|n| row(n, "ab")).collect();
        rows[WINDOW + 3] = row(1_000_000_000, "xy");
        // Within the window only the header is wider than the numbers (n < 1000).
        let streamed = table(&rows, false, None);
        assert!(streamed[1].starts_with("  0  ab"), "{}", streamed[1]);
        // The number column widens right where the wide value comes, staying right-aligned.
        assert_eq!(streamed[WINDOW + 4], "1000000000  xy    t");
        assert!(streamed[WINDOW + 5].starts_with("       260  ab"));
        // Shown every row first (a sort holds them anyway), every line has the same widths.
        let previewed = table(&rows, true, None);
        assert!(
            previewed[1].starts_with("         0  ab"),
            "{}",
            previewed[1]
        );
        let at = tail_at(&previewed[1]);
        assert!(previewed[1..].iter().all(|l| tail_at(l) == at));
    }

    #[test]
    fn streamed_rows_escape_control_characters_and_show_null() {
        let mut rows: Vec<[Value; 3]> = (0..WINDOW as u64 + 2).map(|n| row(n, "ab")).collect();
        rows[WINDOW] = row(1, "x\ty");
        rows[WINDOW + 1] = [Value::Null, Value::Text("é".into()), Value::Null];
        let lines = table(&rows, false, None);
        assert_eq!(lines[WINDOW + 1], "  1  x\\ty  t");
        assert_eq!(lines[WINDOW + 2], "NULL  é     NULL");
    }

    #[test]
    fn on_a_terminal_a_wide_text_cell_after_the_window_is_cut_not_widened() {
        let mut rows: Vec<[Value; 3]> = (0..WINDOW as u64 + 2).map(|n| row(n, "ab")).collect();
        rows[WINDOW + 1] = row(1, "a-much-longer-name");
        let lines = table(&rows, false, Some(40));
        assert_eq!(lines[WINDOW + 2], "  1  a-m…  t");
        assert_eq!(tail_at(&lines[WINDOW + 2]), tail_at(&lines[1]));
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = TextBuf::new();
        push_one_line(&mut out, "a\nb\tc\u{1}d\u{202e}e\\");
        assert_eq!(out.into_string(), "a\\nb\\tc\\x01d\\u{202e}e\\");
    }
}
