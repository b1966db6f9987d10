//! Stage `lower`: how a row is cut into the pieces one `bpf_seq_write` each sends from the
//! 512-byte stack. Guarantees: the segments cover the row exactly, in order; each is at most
//! `SEGMENT_MAX` bytes; a column is whole in one segment unless it is a plain byte copy (a char
//! array or small struct read from memory), which may be split across segments.

use crate::bind::{OutputColumn, TKind, Ty};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::layout::{RowLayout, ROW_MAX, SEGMENT_MAX};

/// Bytes `[from, to)` of column `column` (offsets relative to the column's start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub column: usize,
    pub from: u32,
    pub to: u32,
}

/// Row bytes `[start, end)`, written by one `seq_write`, and the column parts inside them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start: u32,
    pub end: u32,
    pub parts: Vec<Part>,
}

/// Whether a column may be split across segments: a copy of bytes from memory, without a
/// NULL flag.
fn splittable(column: &OutputColumn, has_flag: bool) -> bool {
    !has_flag
        && matches!(column.expr.kind, TKind::Place { .. })
        && matches!(
            column.expr.ty,
            Ty::Chars { .. } | Ty::Struct { .. } | Ty::Array { .. } | Ty::Bytes { .. }
        )
}

/// Cuts the row into segments of at most `SEGMENT_MAX` bytes.
pub fn segments(layout: &RowLayout, columns: &[OutputColumn]) -> Result<Vec<Segment>, Diagnostic> {
    if layout.size > ROW_MAX {
        return Err(Diagnostic::error(
            codes::ROW_TOO_WIDE,
            format!(
                "rows of {} bytes exceed the {ROW_MAX}-byte limit of one iterator object",
                layout.size
            ),
        ));
    }
    let mut out = Vec::new();
    let mut current = Segment {
        start: 0,
        end: 0,
        parts: Vec::new(),
    };
    for (index, (placed, column)) in layout.columns.iter().zip(columns).enumerate() {
        let width = placed.kind.width();
        let end = (placed.offset + width).max(placed.null_flag.map_or(0, |f| f + 1));
        if end - current.start <= SEGMENT_MAX {
            current.parts.push(Part {
                column: index,
                from: 0,
                to: width,
            });
            continue;
        }
        if splittable(column, placed.null_flag.is_some()) {
            let mut from = 0;
            while from < width {
                let limit = current.start + SEGMENT_MAX;
                let take = (limit.saturating_sub(placed.offset + from)).min(width - from);
                if take > 0 {
                    current.parts.push(Part {
                        column: index,
                        from,
                        to: from + take,
                    });
                    from += take;
                }
                if from < width {
                    current.end = limit;
                    out.push(std::mem::replace(
                        &mut current,
                        Segment {
                            start: limit,
                            end: 0,
                            parts: Vec::new(),
                        },
                    ));
                }
            }
            continue;
        }
        if end - placed.offset > SEGMENT_MAX {
            return Err(Diagnostic::error(
                codes::ROW_TOO_WIDE,
                format!(
                    "column `{}` is {} bytes wide; at most {SEGMENT_MAX} fit one write",
                    placed.name,
                    end - placed.offset
                ),
            ));
        }
        current.end = placed.offset;
        let start = placed.offset;
        out.push(std::mem::replace(
            &mut current,
            Segment {
                start,
                end: 0,
                parts: vec![Part {
                    column: index,
                    from: 0,
                    to: width,
                }],
            },
        ));
    }
    current.end = layout.size;
    out.push(current);
    Ok(out)
}

/// The 8-byte words of a segment (offsets relative to it) that must be zeroed: those not
/// entirely covered by stores that always happen (booleans store only when true, nullable
/// columns only when not NULL).
pub fn words_to_zero(layout: &RowLayout, columns: &[OutputColumn], segment: &Segment) -> Vec<u32> {
    let len = segment.end - segment.start;
    let mut covered = vec![false; len.next_multiple_of(8) as usize];
    for part in &segment.parts {
        let (placed, column) = (&layout.columns[part.column], &columns[part.column]);
        if placed.null_flag.is_none() && column.expr.ty != Ty::Bool {
            let start = (placed.offset + part.from - segment.start) as usize;
            let end = (placed.offset + part.to - segment.start) as usize;
            covered[start..end].iter_mut().for_each(|b| *b = true);
        }
    }
    (0..len)
        .step_by(8)
        .filter(|&w| !covered[w as usize..w as usize + 8].iter().all(|b| *b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::TExpr;
    use crate::diagnostic::Span;
    use crate::layout::ColumnKind;

    fn chars(len: u32) -> OutputColumn {
        let ptr = TExpr {
            kind: TKind::Int(0),
            ty: Ty::Literal,
            span: Span::default(),
        };
        let expr = TExpr {
            kind: TKind::Place {
                ptr: Box::new(ptr),
                offset: 0,
            },
            ty: Ty::Chars { len },
            span: Span::default(),
        };
        OutputColumn {
            name: "c".into(),
            expr,
            hidden: false,
        }
    }

    #[test]
    fn a_wide_char_array_is_split_and_the_segments_cover_the_row() {
        let columns = vec![chars(16), chars(512), chars(16)];
        let layout = RowLayout::pack(columns.iter().map(|c| {
            (
                c.name.clone(),
                ColumnKind::Chars {
                    len: match c.expr.ty {
                        Ty::Chars { len } => len,
                        _ => 0,
                    },
                },
                false,
            )
        }));
        let segs = segments(&layout, &columns).expect("splits");
        assert_eq!(segs.first().map(|s| s.start), Some(0));
        assert_eq!(segs.last().map(|s| s.end), Some(layout.size));
        for pair in segs.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert!(segs.iter().all(|s| s.end - s.start <= SEGMENT_MAX));
        let wide: Vec<(u32, u32)> = segs
            .iter()
            .flat_map(|s| &s.parts)
            .filter(|p| p.column == 1)
            .map(|p| (p.from, p.to))
            .collect();
        assert_eq!(wide, vec![(0, 368), (368, 512)]);
    }
}
