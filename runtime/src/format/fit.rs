//! Stage `format` (helper): fitting a table into a terminal's width. Guarantees integer
//! columns and headers are never cut; text columns give up width widest-first, and a cut cell
//! ends with `…` so a reader can tell it was shortened.

use super::TextBuf;

/// Marks a cell that was cut to fit.
pub(super) const CUT_MARKER: char = '…';

/// The narrowest a text column is made, unless its values or header are narrower already: a
/// few characters of a name identify it better than nothing.
const MIN_TEXT_WIDTH: usize = 6;

/// Column widths whose sum plus `gap` between columns fits `max_width`, if cutting the text
/// columns (those with `shrinkable`) down to their header width (or `MIN_TEXT_WIDTH`) can do it;
/// otherwise as narrow as that rule allows. `natural` are the widths of the widest cells.
pub(super) fn fit_widths(
    natural: &[usize],
    header: &[usize],
    shrinkable: &[bool],
    gap: usize,
    max_width: usize,
) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let floor: Vec<usize> = natural
        .iter()
        .zip(header)
        .map(|(&n, &h)| n.min(h.max(MIN_TEXT_WIDTH)))
        .collect();
    let total = |widths: &[usize]| -> usize {
        widths.iter().sum::<usize>() + gap * widths.len().saturating_sub(1)
    };
    let mut excess = total(&widths).saturating_sub(max_width);
    while excess > 0 {
        // The widest column that may still shrink gives up one character; ties go to the
        // rightmost, which is usually the least important.
        let widest = (0..widths.len())
            .filter(|&i| shrinkable.get(i).copied().unwrap_or(false) && widths[i] > floor[i])
            .max_by_key(|&i| (widths[i], i));
        match widest {
            Some(i) => {
                widths[i] -= 1;
                excess -= 1;
            }
            None => break,
        }
    }
    widths
}

/// Appends `cell` cut to `width` characters, the last one the marker, when it is wider.
pub(super) fn push_cut(out: &mut TextBuf, cell: &str, width: usize) {
    if cell.chars().count() <= width {
        out.push_str(cell);
        return;
    }
    if width == 0 {
        return;
    }
    cell.chars().take(width - 1).for_each(|c| out.push(c));
    out.push(CUT_MARKER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_already_fitting_are_kept() {
        assert_eq!(
            fit_widths(&[3, 10], &[3, 4], &[false, true], 2, 80),
            [3, 10]
        );
    }

    #[test]
    fn the_widest_text_column_shrinks_first() {
        // 5 + 2 + 20 + 2 + 12 = 41 -> 30: the 20-wide column gives 8, then the two take turns.
        let widths = fit_widths(&[5, 20, 12], &[3, 4, 4], &[false, true, true], 2, 30);
        assert_eq!(widths.iter().sum::<usize>() + 4, 30);
        assert_eq!(widths, [5, 11, 10]);
    }

    #[test]
    fn integers_and_floors_are_never_cut() {
        let widths = fit_widths(&[20, 30], &[3, 8], &[false, true], 2, 10);
        assert_eq!(
            widths,
            [20, 8],
            "header width is the floor of a text column"
        );
    }

    fn cut(cell: &str, width: usize) -> String {
        let mut out = TextBuf::new();
        push_cut(&mut out, cell, width);
        out.into_string()
    }

    #[test]
    fn cut_cells_end_with_the_marker() {
        assert_eq!(cut("kworker/u8:3", 6), "kwork…");
        assert_eq!(cut("short", 6), "short");
        assert_eq!(cut("ab", 0), "");
    }
}
