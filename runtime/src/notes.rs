//! What a run has to say besides its rows (how rings and group maps were sized, walks the kernel
//! paused, sockets listed once): handed to the caller's `Notes`, never printed here. Guarantees:
//! every note and warning of the runtime goes through one `Notes`, so the CLI prints them and a
//! server can log or count them.

use std::fmt;
use std::sync::Arc;

/// How much a note matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteLevel {
    /// A detail for `--verbose` (sizes, walks).
    Verbose,
    /// Something the user should know about the rows (some may be missing or repeated).
    Warning,
}

/// One note: its level and its text (one sentence, without a "bpfq:" or "warning:" prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: NoteLevel,
    pub text: String,
}

/// Where a run's notes go; shared by the threads that run prepared queries.
pub trait Notes: Send + Sync {
    fn note(&self, note: Note);
}

/// A shared `Notes`, as the run options carry it.
#[derive(Clone)]
pub struct NoteSink(Arc<dyn Notes>);

impl NoteSink {
    pub fn new(notes: Arc<dyn Notes>) -> NoteSink {
        NoteSink(notes)
    }

    /// Notes nobody reads (tests, tools that only want rows).
    pub fn discard() -> NoteSink {
        struct Discard;
        impl Notes for Discard {
            fn note(&self, _: Note) {}
        }
        NoteSink(Arc::new(Discard))
    }

    pub fn verbose(&self, text: String) {
        self.0.note(Note {
            level: NoteLevel::Verbose,
            text,
        });
    }

    pub fn warning(&self, text: String) {
        self.0.note(Note {
            level: NoteLevel::Warning,
            text,
        });
    }
}

impl fmt::Debug for NoteSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NoteSink")
    }
}
