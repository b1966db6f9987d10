//! CLI: `--timings`. The stages are timed by the runtime's `Timings`; guarantees the report goes
//! to stderr only, so stdout stays exactly the query's output.

pub use bpfq_runtime::execute::Timings;

/// Writes the report of `timings` to stderr, if `--timings` asked for one.
pub fn report(timings: &Timings) {
    if let Some(text) = timings.report() {
        eprintln!("{text}");
    }
}
