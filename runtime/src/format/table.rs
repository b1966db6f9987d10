//! Stage `format`: rows as an aligned text table. Guarantees one line per row (control
//! characters in text are shown escaped), numbers right-aligned, everything else left-aligned,
//! no trailing spaces; with `max_width` (a terminal), long text and hex cells are cut with `…`
//! so lines fit when they can. Buffers all rows, since column widths depend on every value.

use std::io;

use bpfq_compiler::layout::{ColumnKind, RowLayout};

use super::{fit, text, FormatOptions, RowSink};
use crate::decode::Value;

const NULL_TEXT: &str = "NULL";
const COLUMN_GAP: &str = "  ";

pub struct TableSink<W: io::Write> {
    out: W,
    options: FormatOptions,
    names: Vec<String>,
    right_aligned: Vec<bool>,
    /// Text and hex columns, which may be cut to fit; numbers, names and addresses never are.
    cuttable: Vec<bool>,
    cells: Vec<Vec<String>>,
}

impl<W: io::Write> TableSink<W> {
    pub fn new(out: W, options: FormatOptions) -> TableSink<W> {
        TableSink {
            out,
            options,
            names: Vec::new(),
            right_aligned: Vec::new(),
            cuttable: Vec::new(),
            cells: Vec::new(),
        }
    }

    fn write_line(&mut self, cells: &[String], widths: &[usize]) -> io::Result<()> {
        let mut line = String::new();
        let last = cells.len().saturating_sub(1);
        for (index, cell) in cells.iter().enumerate() {
            let width = widths
                .get(index)
                .copied()
                .unwrap_or_else(|| display_width(cell));
            let right = self.right_aligned.get(index).copied().unwrap_or(false);
            let cell = &fit::cut(cell, width);
            let padding = " ".repeat(width.saturating_sub(display_width(cell)));
            if index > 0 {
                line.push_str(COLUMN_GAP);
            }
            if right {
                line.push_str(&padding);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if index != last {
                    line.push_str(&padding);
                }
            }
        }
        writeln!(self.out, "{}", line.trim_end())
    }
}

fn display_width(cell: &str) -> usize {
    cell.chars().count()
}

/// Text with control characters escaped so a cell never breaks the line.
fn one_line(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    text.chars()
        .map(|ch| match ch {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            control if control.is_control() => format!("\\x{:02x}", u32::from(control)),
            other => other.to_string(),
        })
        .collect()
}

impl<W: io::Write> RowSink for TableSink<W> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        self.names = layout
            .columns
            .iter()
            .map(|c| one_line(c.name.clone()))
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
                )
            })
            .collect();
        self.cells.clear();
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> io::Result<()> {
        let cells = values
            .iter()
            .map(|v| {
                one_line(text::plain(v, &self.options).unwrap_or_else(|| NULL_TEXT.to_string()))
            })
            .collect();
        self.cells.push(cells);
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        let mut widths: Vec<usize> = if self.options.header {
            self.names.iter().map(|n| display_width(n)).collect()
        } else {
            vec![0; self.names.len()]
        };
        for row in &self.cells {
            for (index, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(index) {
                    *width = (*width).max(display_width(cell));
                }
            }
        }
        if let Some(max_width) = self.options.max_width {
            let header: Vec<usize> = if self.options.header {
                self.names.iter().map(|n| display_width(n)).collect()
            } else {
                vec![0; self.names.len()]
            };
            widths = fit::fit_widths(
                &widths,
                &header,
                &self.cuttable,
                COLUMN_GAP.len(),
                max_width,
            );
        }
        if self.options.header {
            let names = self.names.clone();
            self.write_line(&names, &widths)?;
        }
        let rows = std::mem::take(&mut self.cells);
        for row in &rows {
            self.write_line(row, &widths)?;
        }
        self.out.flush()
    }
}
