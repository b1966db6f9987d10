//! Stage `load` + `read`, maps that must hold a whole walk (a ring of rows, a group map): walk
//! into a map of a first size, and again into one twice as large (up to a cap) while the walk
//! reports it full. Guarantees: the only grow-and-walk-again loop of the runtime; the value
//! handed back comes from one complete walk; a map (with the program loaded with its fd) is
//! kept for the next walks, and replaced only by a larger one, released before the larger one
//! is created, so no two maps of one loop exist at once.

use bpfq_kernel::catalogue::RowTransport;

use crate::notes::NoteSink;

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

/// A map of `size` (and what was loaded with its fd), kept between walks.
pub struct Kept<K> {
    pub size: u64,
    pub value: K,
}

/// `until_fits` over a kept map: starts with `kept` (made at `first` when there is none),
/// replaces it by one `make` creates at the next size while `walk` reports it full; the map the
/// last walk fitted in stays in `kept` for the next walks.
pub fn until_fits_kept<K, T, E>(
    kept: &mut Option<Kept<K>>,
    first: u64,
    max: u64,
    mut make: impl FnMut(u64) -> Result<K, E>,
    mut walk: impl FnMut(&K) -> Result<Attempt<T>, E>,
    on_full: impl FnMut(u64, u64),
) -> Result<Grown<T>, GrowError<E>> {
    let start = kept.as_ref().map_or(first, |kept| kept.size);
    let attempt = |size: u64| -> Result<Attempt<T>, E> {
        let current = match kept.take() {
            Some(current) if current.size == size => current,
            stale => {
                // The smaller map (and its program) goes before the larger one is created.
                drop(stale);
                Kept {
                    size,
                    value: make(size)?,
                }
            }
        };
        let walked = walk(&current.value);
        *kept = Some(current);
        walked
    };
    until_fits(start, max, attempt, on_full)
}

/// Warns that a silent walk of `target` was paused `pauses` times (a read that visits 1,000,000
/// objects without output stops there): the targets whose rows travel through a ring resume at
/// the next hash bucket, so what the bucket held after the pause is missing.
pub fn warn_if_paused(pauses: u32, target: &str, transport: RowTransport, notes: &NoteSink) {
    if pauses > 0 && transport == RowTransport::RingBuf {
        notes.warning(format!(
            "the kernel paused the walk {pauses} time(s) after 1,000,000 objects; \
             iter/{target} resumes at the next hash bucket, so rows of the bucket it paused in may be missing"
        ));
    }
}
