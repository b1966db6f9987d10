#!/usr/bin/env bash
# fuzz/run.sh — bounded libFuzzer runs of every cargo-fuzz target (CI calls it with CI=true).
#
# Each target starts from its committed seeds in fuzz/corpus/TARGET (read-only: new inputs go
# to a temp dir, so the committed corpus stays small) and runs FUZZ_SECONDS (default 60).
# A crash fails the script and leaves the reproducer under fuzz/artifacts/TARGET/.
#
# The toolchain is stable-only: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags
# (sanitizer, coverage) to the stable compiler, whose x86_64 std ships the ASan runtime.
# cargo-fuzz's default profile is release with debug assertions (overflow checks count).
#
# Usage: fuzz/run.sh [TARGET...]     (default: parse compile btf fold)
# Env:   FUZZ_SECONDS=N   seconds per target (default 60)
#        FUZZ_SEED=N      libFuzzer's seed (default 1, so a CI run is reproducible: the same
#                         inputs in the same order; set another seed to explore further)
set -euo pipefail
fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=${FUZZ_SECONDS:-60}
seed=${FUZZ_SEED:-1}
targets=("$@")
((${#targets[@]})) || targets=(parse compile btf fold)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

new_inputs=$(mktemp -d /tmp/bpfq-fuzz.XXXXXX)
trap 'rm -rf "$new_inputs"' EXIT

export RUSTC_BOOTSTRAP=1
cd "$fuzz_dir"
for target in "${targets[@]}"; do
    [[ -d corpus/$target ]] || { echo "fuzz/run.sh: no target '$target'" >&2; exit 2; }
    mkdir -p "$new_inputs/$target"
    echo "fuzz/run.sh: $target for ${seconds}s" >&2
    # -rss_limit_mb: the btf target holds two copies of the 6 MB fixture plus ASan's shadow.
    cargo fuzz run "$target" "$new_inputs/$target" "corpus/$target" -- \
                -max_total_time="$seconds" -seed="$seed" -rss_limit_mb=4096 -print_final_stats=1
done
