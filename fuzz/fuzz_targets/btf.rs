//! Fuzz target: the BTF reader on the 6.18 fixture with byte patches (see `patched_fixture`),
//! then target discovery and a few compilations that walk the corrupted types.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bpfq_fuzz::exercise_btf(bpfq_fuzz::patched_fixture(data));
});
