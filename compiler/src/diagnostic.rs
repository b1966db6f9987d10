//! Diagnostics (all stages): spans, source files, coded error messages rendered with
//! codespan-reporting, and "did you mean" suggestions. Rendering never panics: a span
//! outside its file is clamped rather than trusted.

use std::borrow::Cow;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use codespan_reporting::term::termcolor::WriteColor;

use crate::hidden::visible_lines;

/// Index of a source text inside [`Sources`].
pub type FileId = usize;

/// A byte range `start..end` inside one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: clamp_u32(start),
            end: clamp_u32(end.max(start)),
        }
    }

    /// The smallest span covering both `self` and `other` (same file assumed: `self`'s wins).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

fn clamp_u32(offset: usize) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

/// Names and texts of every source a diagnostic may point into (query arguments,
/// query files, stdlib files). Texts are shared: a clone copies no text.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: SimpleFiles<String, std::sync::Arc<str>>,
    count: usize,
}

impl Sources {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.count += 1;
        self.files
            .add(name.into(), std::sync::Arc::from(text.into()))
    }

    /// The file's name, or "" for an id this collection never gave out.
    pub fn name(&self, id: FileId) -> &str {
        self.files
            .get(id)
            .map(|file| file.name().as_str())
            .unwrap_or("")
    }

    /// The file's text, or "" for an id this collection never gave out.
    pub fn text(&self, id: FileId) -> &str {
        self.files
            .get(id)
            .map(|file| file.source().as_ref())
            .unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One error with a stable code (see `codes.rs`), labelled spans and notes.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn with_primary(mut self, span: Span, msg: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: msg.into(),
            primary: true,
        });
        self
    }

    pub fn with_secondary(mut self, span: Span, msg: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: msg.into(),
            primary: false,
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The first primary label's span, if any (used by tests and tools).
    pub fn primary_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|label| label.primary)
            .map(|label| label.span)
    }

    /// Plain text (no colour), as a terminal would show it.
    pub fn render(&self, sources: &Sources) -> String {
        let (files, diagnostic) = self.to_codespan(sources);
        match term::emit_into_string(&render_config(), files.as_ref(), &diagnostic) {
            Ok(text) => text,
            // Only reachable if a file vanished; fall back to the bare message.
            Err(_) => format!("error[{}]: {}\n", self.code, self.message),
        }
    }

    /// Render to a terminal writer (which decides about colour).
    pub fn render_to(&self, sources: &Sources, out: &mut dyn WriteColor) -> std::io::Result<()> {
        let (files, diagnostic) = self.to_codespan(sources);
        term::emit_to_write_style(out, &render_config(), files.as_ref(), &diagnostic)
            .map_err(std::io::Error::other)
    }

    /// codespan needs labels that fit their file; clamping here makes rendering total. Control
    /// and bidi characters of the sources and texts are shown escaped (`hidden.rs`), the
    /// labels moved to match, so a snippet never writes them raw to the terminal.
    fn to_codespan<'s>(
        &self,
        sources: &'s Sources,
    ) -> (
        Cow<'s, SimpleFiles<String, std::sync::Arc<str>>>,
        cs::Diagnostic<FileId>,
    ) {
        let hidden =
            (0..sources.len()).any(|id| visible_lines(sources.text(id)) != sources.text(id));
        let labels = self
            .labels
            .iter()
            .filter(|label| label.span.file < sources.len())
            .map(|label| {
                let text = sources.text(label.span.file);
                let start = floor_char_boundary(text, label.span.start as usize);
                let end = floor_char_boundary(text, (label.span.end as usize).max(start));
                let shown = |offset: usize| match hidden {
                    true => visible_lines(&text[..offset]).len(),
                    false => offset,
                };
                let label_kind = if label.primary {
                    cs::Label::primary
                } else {
                    cs::Label::secondary
                };
                label_kind(label.span.file, shown(start)..shown(end))
                    .with_message(visible_lines(&label.message))
            })
            .collect();
        let diagnostic = cs::Diagnostic::error()
            .with_code(self.code)
            .with_message(visible_lines(&self.message))
            .with_labels(labels)
            .with_notes(
                self.notes
                    .iter()
                    .map(|n| visible_lines(n).into_owned())
                    .collect(),
            );
        let files = match hidden {
            false => Cow::Borrowed(&sources.files),
            true => {
                let mut shown = SimpleFiles::new();
                for id in 0..sources.len() {
                    shown.add(
                        sources.name(id).to_string(),
                        std::sync::Arc::from(visible_lines(sources.text(id)).into_owned()),
                    );
                }
                Cow::Owned(shown)
            }
        };
        (files, diagnostic)
    }
}

fn render_config() -> term::Config {
    term::Config::default()
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A name longer than this gets no suggestion: no real column, member or target name comes
/// close (the longest kernel identifiers are about 60 characters), and the edit distance costs
/// the product of the two lengths.
pub const MAX_SUGGESTED_LEN: usize = 64;

/// Candidates that look like `wanted`, closest first: prefix matches, then small
/// edit distances (optimal string alignment: insert, delete, replace, swap). Matching
/// ignores ASCII case. Far-off names are left out so a suggestion is worth reading.
/// Linear in the candidates; nothing for a `wanted` over `MAX_SUGGESTED_LEN` bytes.
pub fn nearest_names<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<&'a str> {
    if wanted.len() > MAX_SUGGESTED_LEN {
        return Vec::new();
    }
    let wanted_lower = wanted.to_ascii_lowercase();
    let wanted_chars = wanted_lower.chars().count();
    let mut scored: Vec<(usize, &'a str)> = Vec::new();
    for candidate in candidates {
        let lower = candidate.to_ascii_lowercase();
        if lower == wanted_lower && candidate == wanted {
            continue;
        }
        let score = if lower == wanted_lower {
            0
        } else if wanted_lower.len() >= 2
            && (lower.starts_with(&wanted_lower)
                || wanted_lower.starts_with(&lower) && lower.len() >= 3)
        {
            1
        } else if wanted_lower.len() >= 3 && lower.contains(&wanted_lower) {
            2
        } else {
            let chars = lower.chars().count();
            // Allow about one edit per three characters, at least one.
            let allowed = (wanted_chars.max(chars) / 3).max(1);
            // The distance is at least the difference in length: skip the table when that
            // alone is too far (a long candidate costs nothing then).
            if chars.abs_diff(wanted_chars) > allowed {
                continue;
            }
            let distance = edit_distance(&wanted_lower, &lower);
            if distance > allowed {
                continue;
            }
            2 + distance
        };
        scored.push((score, candidate));
    }
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    // A candidate listed twice keeps its best score (the first after sorting by score).
    let mut seen = std::collections::HashSet::new();
    scored
        .into_iter()
        .filter(|(_, name)| seen.insert(*name))
        .take(max)
        .map(|(_, name)| name)
        .collect()
}

/// Optimal-string-alignment distance (Damerau-Levenshtein without repeated edits of
/// one substring), over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for (i, row_start) in (0..=a.len()).map(|i| (i, i * width)) {
        table[row_start] = i;
    }
    for (j, cell) in table.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[(i - 1) * width + j] + 1)
                .min(table[i * width + j - 1] + 1)
                .min(table[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[(i - 2) * width + j - 2] + 1);
            }
            table[i * width + j] = best;
        }
    }
    table[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("selct", "select"), 1);
        assert_eq!(edit_distance("slecet", "select"), 2);
        assert_eq!(edit_distance("form", "from"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn nearest_names_ranks_close_names_first_and_drops_far_ones() {
        let names = ["select", "where", "order", "limit", "from"];
        assert_eq!(nearest_names("selct", names, 3), vec!["select"]);
        assert_eq!(nearest_names("form", names, 3), vec!["from"]);
        assert!(nearest_names("xyzzy", names, 3).is_empty());
        let fields = ["comm", "common", "pid", "tgid"];
        assert_eq!(nearest_names("com", fields, 2), vec!["comm", "common"]);
        assert_eq!(nearest_names("SELECT", ["select"], 1), vec!["select"]);
    }

    #[test]
    fn a_name_past_the_suggestion_cap_gets_no_suggestion() {
        let at_cap = format!("comm{}", "x".repeat(MAX_SUGGESTED_LEN - 4));
        let past_cap = format!("{at_cap}x");
        assert_eq!(nearest_names(&at_cap, ["comm"], 1), vec!["comm"]);
        assert!(nearest_names(&past_cap, ["comm"], 1).is_empty());
    }

    #[test]
    fn span_to_covers_both() {
        let a = Span::new(0, 3, 5);
        let b = Span::new(0, 10, 12);
        assert_eq!(a.to(b), Span::new(0, 3, 12));
        assert_eq!(b.to(a), Span::new(0, 3, 12));
    }

    #[test]
    fn render_escapes_control_characters_and_keeps_the_label_under_its_text() {
        let mut sources = Sources::new();
        let file = sources.add("<query>", "from task\0\u{1b}[2J selct pid");
        let text = Diagnostic::error("E0001", "unexpected `\u{202e}`")
            .with_primary(Span::new(file, 15, 20), "here")
            .render(&sources);
        assert!(
            !text.chars().any(crate::hidden::is_hidden_in_line),
            "{text:?}"
        );
        assert!(
            text.contains("error[E0001]: unexpected `\\u{202e}`"),
            "{text}"
        );
        assert!(text.contains("from task\\x00\\x1b[2J selct pid"), "{text}");
        let source_line = text.lines().find(|l| l.contains("selct")).unwrap_or("");
        let label_line = text.lines().find(|l| l.contains("^^^^^")).unwrap_or("");
        assert_eq!(source_line.find("selct"), label_line.find('^'), "{text}");
    }

    #[test]
    fn render_shows_code_message_label_and_note() {
        let mut sources = Sources::new();
        let file = sources.add("<query>", "from task selct pid");
        let text = Diagnostic::error("E0001", "unexpected `selct`")
            .with_primary(Span::new(file, 10, 15), "here")
            .with_note("help: did you mean `select`?")
            .render(&sources);
        assert!(text.contains("error[E0001]: unexpected `selct`"), "{text}");
        assert!(text.contains("<query>:1:11"), "{text}");
        assert!(text.contains("^^^^^ here"), "{text}");
        assert!(text.contains("= help: did you mean `select`?"), "{text}");
    }

    #[test]
    fn render_survives_spans_outside_the_file() {
        let mut sources = Sources::new();
        let file = sources.add("q", "é");
        let text = Diagnostic::error("E0001", "x")
            .with_primary(Span::new(file, 1, 99), "odd")
            .with_secondary(Span::new(7, 0, 1), "no such file")
            .render(&sources);
        assert!(text.contains("error[E0001]: x"), "{text}");
    }
}
