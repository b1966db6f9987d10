#!/usr/bin/env bash
# bench/run.sh — reproduces the "tasks, idle" row of DESIGN.md §6 in one run.
#
# Measures, interleaved round-robin, N rounds (BENCH_ROUNDS, default 200):
#   bpfq          bpfq 'from task select pid, comm'          > /dev/null
#   ps            ps -e -o pid,comm                          > /dev/null
#   oneshot_c     libbpf loader: open, load, attach, read, close a clang object
#   pinned_cat    cat /sys/fs/bpf/bpfq_bench_task            > /dev/null  (floor)
#   bpfq_explain  bpfq explain 'from task select pid, comm'  > /dev/null  (reference)
# and prints median/p10/p90 wall time, median peak RSS, ratios and goal checks.
#
# Usage: bench/run.sh [PATH_TO_BPFQ]
# Env:   BPFQ=path        bpfq binary (default: <repo>/target/release/bpfq, built if missing)
#        BENCH_ROUNDS=N   measured rounds (default 200)
#        BENCH_WARMUP=N   unmeasured warm-up rounds (default 3)
#        BENCH_SAMPLES=F  keep every raw sample (label round wall_ns maxrss_kb) in F
#        CLANG=clang      compiler for the BPF object and the C helpers
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/.." && pwd)

rounds=${BENCH_ROUNDS:-200}
warmup=${BENCH_WARMUP:-3}
clang=${CLANG:-clang}
bpfq=${1:-${BPFQ:-$repo_root/target/release/bpfq}}
query='from task select pid, comm'
pin_path=/sys/fs/bpf/bpfq_bench_task

die() { echo "bench: $*" >&2; exit 1; }

# ---- cleanup: everything we create goes away, even on Ctrl-C ------------
work_dir=''
pinned=0
cleanup() {
    if [[ $pinned == 1 ]]; then rm -f "$pin_path"; fi
    if [[ -n $work_dir ]]; then rm -rf "$work_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- prerequisites -------------------------------------------------------
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer (got '$rounds')"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer (got '$warmup')"
[[ $(id -u) == 0 ]] || die "run as root: loading BPF iterators needs CAP_BPF/CAP_PERFMON"

missing=()
command -v "$clang" >/dev/null || missing+=("clang (apt-get install clang)")
command -v bpftool >/dev/null || missing+=("bpftool (apt-get install bpftool)")
[[ -f /usr/include/bpf/bpf_helpers.h && -f /usr/include/bpf/libbpf.h ]] \
    || missing+=("libbpf headers (apt-get install libbpf-dev)")
command -v ps >/dev/null || missing+=("ps (apt-get install procps)")
if ((${#missing[@]})); then
    printf 'bench: missing tools:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
fi
[[ -r /sys/kernel/btf/vmlinux ]] || die "/sys/kernel/btf/vmlinux missing: the kernel needs CONFIG_DEBUG_INFO_BTF"
mountpoint -q /sys/fs/bpf || die "/sys/fs/bpf is not mounted (mount -t bpf bpf /sys/fs/bpf)"

if [[ ! -x $bpfq ]]; then
    if [[ -z ${1:-} && -z ${BPFQ:-} ]]; then
        echo "bench: $bpfq missing, building it (cargo build --release)" >&2
        # Unset CARGO_TARGET_DIR so the binary lands where we look for it.
        (cd "$repo_root" && env -u CARGO_TARGET_DIR cargo build --release) \
            || die "cargo build --release failed"
    fi
    [[ -x $bpfq ]] || die "bpfq binary not found at $bpfq (pass a path or set BPFQ)"
fi

# ---- build the C anchors (once per run, in a temp dir) -------------------
work_dir=$(mktemp -d /tmp/bpfq-bench.XXXXXX)
echo "bench: building C anchors in $work_dir" >&2
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$work_dir/vmlinux.h" \
    || die "bpftool could not dump vmlinux BTF"
"$clang" -O2 -g -target bpf -I"$work_dir" \
    -c "$bench_dir/c/task_iter.bpf.c" -o "$work_dir/task_iter.bpf.o" \
    || die "clang failed on task_iter.bpf.c"
"$clang" -O2 -Wall -o "$work_dir/oneshot" "$bench_dir/c/oneshot.c" -lbpf \
    || die "building oneshot.c failed (is libbpf-dev installed?)"
"$clang" -O2 -Wall -o "$work_dir/runbench" "$bench_dir/c/runbench.c" \
    || die "building runbench.c failed"

if [[ -e $pin_path ]]; then
    echo "bench: removing stale pin $pin_path from an earlier run" >&2
    rm -f "$pin_path"
fi
pinned=1 # set first so an interrupt right after the pin still removes it
bpftool iter pin "$work_dir/task_iter.bpf.o" "$pin_path" || die "bpftool iter pin failed"

# ---- sanity: every path produces the same kind of output -----------------
row_bytes=20 # struct task_row { u32 pid; char comm[16]; }
c_rows=$(($(cat "$pin_path" | wc -c) / row_bytes))
"$work_dir/oneshot" "$work_dir/task_iter.bpf.o" || die "the one-shot libbpf loader failed"
bpfq_rows=$("$bpfq" --no-header "$query" | wc -l) || die "bpfq failed to run the query"
ps_rows=$(ps -e --no-headers -o pid | wc -l)
echo "bench: rows now: bpfq=$bpfq_rows pinned-C=$c_rows ps=$ps_rows (ps lists processes, iter/task threads)" >&2
((bpfq_rows > 0 && c_rows > 0)) || die "an iterator produced no rows"

# ---- measure -------------------------------------------------------------
samples=${BENCH_SAMPLES:-$work_dir/samples.tsv}
echo "bench: $rounds rounds (+$warmup warm-up), round-robin over 5 commands..." >&2
summary=$("$work_dir/runbench" "$rounds" "$warmup" "$samples" \
    bpfq "$bpfq" "$query" :: \
    ps ps -e -o pid,comm :: \
    oneshot_c "$work_dir/oneshot" "$work_dir/task_iter.bpf.o" :: \
    pinned_cat cat "$pin_path" :: \
    bpfq_explain "$bpfq" explain "$query") || die "timing harness failed"

# ---- report --------------------------------------------------------------
echo
echo "bpfq benchmark: tasks, idle ($bpfq_rows tasks), $(uname -r), $(nproc) CPUs, $rounds rounds"
awk -F'\t' '
    $1 == "harness_rss_kb" { harness = $2; next }
    { med[$1] = $2; p10[$1] = $3; p90[$1] = $4; rss[$1] = $5; order[++n] = $1 }
    function goal(ok) { return ok ? "PASS" : "MISS" }
    END {
        printf "\n%-14s %10s %10s %10s %14s\n", "tool", "median ms", "p10 ms", "p90 ms", "peak RSS KB"
        for (i = 1; i <= n; i++) {
            t = order[i]
            printf "%-14s %10.3f %10.3f %10.3f %14d\n", t, med[t], p10[t], p90[t], rss[t]
        }
        printf "(peak RSS includes the harness pre-exec floor of %d KB)\n", harness
        r_ps = med["bpfq"] / med["ps"]
        r_c = med["bpfq"] / med["oneshot_c"]
        r_floor = med["bpfq"] / med["pinned_cat"]
        printf "\n%-28s %10s %12s  %s\n", "goal (medians)", "value", "target", "result"
        printf "%-28s %9.3fx %12s  %s\n", "bpfq / ps", r_ps, "<= 0.6x", goal(r_ps <= 0.6)
        printf "%-28s %9.3fx %12s  %s\n", "bpfq / one-shot C (libbpf)", r_c, "<= 0.3x", goal(r_c <= 0.3)
        printf "%-28s %9.3fx %12s  %s\n", "bpfq / pinned floor", r_floor, "-", "(reference)"
        printf "%-28s %7d KB %12s  %s\n", "bpfq peak RSS", rss["bpfq"], "<= 8192 KB", goal(rss["bpfq"] <= 8192)
    }' <<<"$summary"
if [[ -n ${BENCH_SAMPLES:-} ]]; then echo; echo "raw samples: $samples"; fi
