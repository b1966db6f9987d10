//! Stage `load` + `read`, maps that must hold a whole walk (a ring of rows, a group map): walk
//! into a map of a first size, and again into one twice as large (up to a cap) while the walk
//! reports it full. Guarantees: the only grow-and-walk-again loop of the runtime; the value
//! handed back comes from one complete walk; the caller's attempt releases its map before it
//! reports it full, so no two maps of one loop exist at once.

use bpfq_kernel::catalogue::RowTransport;

/// What one walk into a map of some size gave.
pub enum Attempt<T> {
    /// Everything fitted.
    Fits(T),
    /// The map filled up (its contents are incomplete, and already released).
    Full,
}

/// The outcome of the walk that fitted.
pub struct Grown<T> {
    pub value: T,
    /// The size that held everything.
    pub size: u64,
    /// Walks run (1 when the first size was large enough).
    pub walks: u32,
}

/// Why growing failed: even the largest map filled up, or an attempt failed.
pub enum GrowError<E> {
    TooLarge { size: u64 },
    Walk(E),
}

/// Runs `attempt` with `first` (at most `max`), then with twice the size (at most `max`) while
/// it reports `Full`; `on_full(old, new)` is told of each retry.
pub fn until_fits<T, E>(
    first: u64,
    max: u64,
    mut attempt: impl FnMut(u64) -> Result<Attempt<T>, E>,
    mut on_full: impl FnMut(u64, u64),
) -> Result<Grown<T>, GrowError<E>> {
    let mut size = first.min(max);
    let mut walks = 0;
    loop {
        walks += 1;
        if let Attempt::Fits(value) = attempt(size).map_err(GrowError::Walk)? {
            return Ok(Grown { value, size, walks });
        }
        if size >= max {
            return Err(GrowError::TooLarge { size });
        }
        let next = size.saturating_mul(2).min(max);
        on_full(size, next);
        size = next;
    }
}

/// Warns that a silent walk of `target` was paused `pauses` times (a read that visits 1,000,000
/// objects without output stops there): the targets whose rows travel through a ring resume at
/// the next hash bucket, so what the bucket held after the pause is missing.
pub fn warn_if_paused(pauses: u32, target: &str, transport: RowTransport) {
    if pauses > 0 && transport == RowTransport::RingBuf {
        eprintln!(
            "bpfq: warning: the kernel paused the walk {pauses} time(s) after 1,000,000 objects; \
             iter/{target} resumes at the next hash bucket, so rows of the bucket it paused in may be missing"
        );
    }
}
