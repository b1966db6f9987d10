//! Fuzz target: binder and whole compilation (parse, bind, plan, lower, emit) against the 6.18
//! fixture BTF and the embedded stdlib.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = std::str::from_utf8(data) {
        bpfq_fuzz::compile_against(bpfq_fuzz::fixture(), query);
    }
});
