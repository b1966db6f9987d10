//! Fuzz target: constant folding against the map walk's evaluator. The input's bytes choose an
//! expression (`tests/common/expr_gen.rs`); its folded value must be what the evaluator computes
//! with every constant a run-time value of the same type.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bpfq_fuzz::fold_agrees(data);
});
