#!/usr/bin/env bash
# bench/fallbacks.sh — each kernel fallback of bpfq against the direct path it replaces, both
# timed in the same run on the same objects with the same query, reported as ratios.
#
# In Debian's 6.12 kernel booted under qemu (tests/kernels.sh --run; this host's kernel refuses
# the direct paths of the first three), bench/fallbacks-guest.sh creates the objects once and
# times, interleaved (direct, fallback, direct, ...), BENCH_ROUNDS rounds of each pair:
#   map_elem    bpf_map_elem: map-element iterator program  vs  user-space map walk (--map-walk)
#   sk_storage  bpf_sk_storage_map: map-element program  vs  socket iterator programs (--map-walk)
#   sockmap     sockmap: map-element program  vs  socket iterators matching cookies (--map-walk)
#   task_file   d_path by bpf_d_path  vs  dentry walk (--assume-kernel-lacks d_path_in_iter)
#   task_vma    the same for vm_file (--assume-kernel-lacks vma_file_path_trusted)
# Then on this host: a query with the probe cache removed (/run/bpfq/features-*) against the
# same query with the cache in place.
# The guest's clock (BENCH_CLOCK): `icount` (default) runs qemu with -icount shift=0,sleep=off,
# so guest time is its instruction count (1 ns each): steady within ~1% whatever the host's
# load, but blind to memory and cache costs; `real` is TCG's wall clock, which swings by 2x
# between rounds on a busy host.
#
# Usage: bench/fallbacks.sh [PATH_TO_BPFQ]   (the host binary for the probe rows; the guest's is
#        the static build tests/kernels.sh makes of this checkout)
# Env:   BPFQ=path           host bpfq (default: <repo>/target/release/bpfq, built if missing)
#        BENCH_ROUNDS=N      measured rounds per pair (default 15)
#        BENCH_WARMUP=N      unmeasured warm-up rounds (default 2)
#        BENCH_KERNEL=LABEL  the tests/kernels.sh guest (default 6.12)
#        BENCH_CLOCK=icount|real  the guest's clock (default icount, above)
#        BENCH_SAMPLES=DIR   keep the guest's output and the host's raw samples there
#        BOOT_TIMEOUT=S      seconds the guest may take (default 3600)
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/.." && pwd)
rounds=${BENCH_ROUNDS:-15}
warmup=${BENCH_WARMUP:-2}
kernel=${BENCH_KERNEL:-6.12}
clock=${BENCH_CLOCK:-icount}
bpfq=${1:-${BPFQ:-$repo_root/target/release/bpfq}}
probe_query='from task select pid, comm'

die() { echo "fallbacks: $*" >&2; exit 1; }
say() { echo "fallbacks: $*" >&2; }

[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer (got '$rounds')"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer (got '$warmup')"
case $clock in
    icount) qemu_extra='-icount shift=0,sleep=off' ;;
    real) qemu_extra='' ;;
    *) die "BENCH_CLOCK must be icount or real (got '$clock')" ;;
esac
[[ $(id -u) == 0 ]] || die "run as root (qemu's boot is not, but the host's probe rows load programs)"
command -v cc >/dev/null || die "no cc: the guest's helpers are built with cc -static (libc6-dev)"

work=$(mktemp -d /tmp/bpfq-fallbacks.XXXXXX)
kernels_pid=''
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    # tests/kernels.sh kills its qemu, by pid, when it is stopped.
    if [[ -n $kernels_pid ]]; then kill "$kernels_pid" 2>/dev/null || true; wait "$kernels_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
samples_dir=${BENCH_SAMPLES:-$work}
mkdir -p "$samples_dir"

if [[ ! -x $bpfq ]]; then
    if [[ -z ${1:-} && -z ${BPFQ:-} ]]; then
        say "$bpfq missing, building it (cargo build --release)"
        (cd "$repo_root" && env -u CARGO_TARGET_DIR cargo build --release) || die "cargo build --release failed"
    fi
    [[ -x $bpfq ]] || die "bpfq binary not found at $bpfq (pass a path or set BPFQ)"
fi

# ---- the guest's directory: its script, static helpers, the sizes ---------------------------
guest=$work/guest
mkdir -p "$guest"
cp "$bench_dir/fallbacks-guest.sh" "$guest/run.sh"
cc -static -O2 -o "$guest/runbench" "$bench_dir/c/runbench.c" || die "building runbench.c failed"
cc -static -O2 -o "$guest/open_files" "$bench_dir/c/open_files.c" || die "building open_files.c failed"
cat >"$guest/config" <<CONFIG
ROUNDS=$rounds
WARMUP=$warmup
HASH_ELEMENTS=10000
CONNECTIONS=1000
DIRS=4
FILES=1000
CONFIG

say "booting $kernel under qemu ($clock clock): $rounds rounds (+$warmup warm-up) of 5 pairs"
BOOT_TIMEOUT=${BOOT_TIMEOUT:-3600} QEMU_EXTRA=$qemu_extra "$repo_root/tests/kernels.sh" --run "$guest" "$kernel" \
    >"$samples_dir/guest.out" &
kernels_pid=$!
wait "$kernels_pid" || { kernels_pid=''; cat "$samples_dir/guest.out" >&2; die "the guest run failed"; }
kernels_pid=''
grep '^INFO' "$samples_dir/guest.out" | sed 's/^INFO /guest: /'
echo "guest clock: $clock${qemu_extra:+ (qemu $qemu_extra: guest ms = instructions / 10^6)}"

# ---- host: the probe, cache removed vs cached ------------------------------------------------
cc -O2 -o "$work/runbench" "$bench_dir/c/runbench.c" || die "building runbench.c failed"
say "host: probe cold vs cached, $rounds rounds"
# Both through sh, so the shell's start is in both; the cold one first removes the cache.
# shellcheck disable=SC2016 # $0 and $1 are the inner shell's
"$work/runbench" "$rounds" "$warmup" "$work/probe.tsv" \
    direct sh -c 'exec "$0" "$1"' "$bpfq" "$probe_query" \
    :: fallback sh -c 'rm -f /run/bpfq/features-*; exec "$0" "$1"' "$bpfq" "$probe_query" >/dev/null \
    || die "runbench failed on the host"
sed 's/^/SAMPLE probe /' "$work/probe.tsv" >>"$samples_dir/guest.out"
echo "host: $(uname -r), $(nproc) CPUs, $("$bpfq" --version)"

# ---- the table -------------------------------------------------------------------------------
echo
echo "Medians of $rounds interleaved rounds in ms (p10-p90); ratio = fallback median / direct"
echo "median, with the p10-p90 of the per-round ratios (each round's fallback over its direct);"
echo "the same for CPU time (user + system)."
echo
echo "| fallback | rows (direct / fallback) | direct ms | fallback ms | ratio (p10-p90) | CPU ratio (p10-p90) |"
echo "|---|---|---|---|---|---|"
awk '
    # Nearest-rank percentile of v[1..n] after sorting it in place (n is small).
    function pct(v, n, p,   i, j, t) {
        for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
        return v[int(p * (n - 1) + 0.5) + 1]
    }
    function med(v, n) { pct(v, n, 0.5); return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    $1 == "PAIR" { rows[$2] = $3 " / " $4; check[$2] = ($5 == "same" ? "" : " rows " $5) ($6 == "paths-ok" ? "" : " " $6) }
    $1 == "SAMPLE" {
        name = $2; if (!(name in seen)) { seen[name] = 1; order[++names] = name }
        wall[name, $3, $4] = $5 / 1e6; cpu[name, $3, $4] = $7 / 1e6; last[name] = $4 + 1
    }
    END {
        what["map_elem"] = "bpf_map_elem: map walk in user space"
        what["sk_storage"] = "bpf_sk_storage_map: socket iterators"
        what["sockmap"] = "sockmap: socket iterators, cookies"
        what["task_file"] = "task_file path: dentry walk"
        what["task_vma"] = "task_vma path: dentry walk"
        what["probe"] = "probe cache removed (host; direct = cached)"
        for (k = 1; k <= names; k++) {
            name = order[k]; n = last[name]
            for (r = 0; r < n; r++) {
                d[r + 1] = wall[name, "direct", r]; f[r + 1] = wall[name, "fallback", r]
                q[r + 1] = f[r + 1] / d[r + 1]
                dc[r + 1] = cpu[name, "direct", r]; fc[r + 1] = cpu[name, "fallback", r]
                qc[r + 1] = fc[r + 1] / dc[r + 1]
            }
            dm = med(d, n); dl = pct(d, n, 0.1); dh = pct(d, n, 0.9)
            fm = med(f, n); fl = pct(f, n, 0.1); fh = pct(f, n, 0.9)
            ql = pct(q, n, 0.1); qh = pct(q, n, 0.9)
            printf "| %s | %s | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2fx (%.2f-%.2f) | %.2fx (%.2f-%.2f) |\n",
                what[name] check[name], (name in rows) ? rows[name] : "-", dm, dl, dh, fm, fl, fh,
                fm / dm, ql, qh, med(fc, n) / med(dc, n), pct(qc, n, 0.1), pct(qc, n, 0.9)
        }
    }' "$samples_dir/guest.out"
if [[ -n ${BENCH_SAMPLES:-} ]]; then echo; echo "raw samples: $samples_dir/guest.out"; fi
