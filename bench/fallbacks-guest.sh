#!/bin/sh
# bench/fallbacks-guest.sh — the guest half of bench/fallbacks.sh, run by tests/kernels.sh --run
# as /guest-run/run.sh (busybox sh, no bash). Creates the objects once (the map helper of
# tests/kernels/maps.c: a hash map and loopback connections in an sk_storage map and a sockmap;
# bench/c/open_files.c: a process holding files open and mapped), then per fallback checks that
# both paths plan differently and give the same rows, and times them interleaved (direct,
# fallback, direct, ...) with runbench. Output lines, parsed by bench/fallbacks.sh:
#   INFO <text>
#   PAIR <name> <direct rows> <fallback rows> <same|DIFFERENT> <paths-ok|DIRECT-IS-FALLBACK|NO-FALLBACK>
#   SAMPLE <name> <label> <round> <wall_ns> <maxrss_kb> <cpu_ns>
# It removes its pins and files and stops its helpers before it ends.
here=$(dirname "$0")
# shellcheck disable=SC1091 # written by bench/fallbacks.sh
. "$here/config" # ROUNDS WARMUP HASH_ELEMENTS CONNECTIONS DIRS FILES
BPFQ=${BPFQ:-/bin/bpfq}
MAPS_HELPER=${MAPS_HELPER:-/bin/bpfq-test-maps}
PINS=/sys/fs/bpf
out=/tmp/bench-fallbacks
file_root=$out/files
mkdir -p "$file_root"

die() { echo "INFO error: $*"; exit 1; }

# wait_ready FILE PID: until FILE has a `ready` line (the helper's), at most 120 s.
wait_ready() {
    n=0
    until grep -q '^ready$' "$1" 2>/dev/null; do
        kill -0 "$2" 2>/dev/null || die "$(head -n 3 "$1" | tr '\n' ' ')"
        n=$((n + 1))
        [ "$n" -le 1200 ] || die "no ready line in $1 after 120 s"
        sleep 0.1
    done
}

maps_pid=
files_pid=
cleanup() {
    [ -z "$maps_pid" ] || kill "$maps_pid" 2>/dev/null
    [ -z "$files_pid" ] || kill "$files_pid" 2>/dev/null
    rm -f "$PINS/kt_hash" "$PINS/kt_sockmap" "$PINS/kt_sockmap8" "$PINS/kt_sk_storage"
    rm -rf "$out"
}
trap cleanup EXIT

echo "INFO kernel $(uname -r), $(nproc) CPUs, $("$BPFQ" --version)"
"$MAPS_HELPER" "$PINS" "$HASH_ELEMENTS" "$CONNECTIONS" >"$out/maps" 2>&1 </dev/null &
maps_pid=$!
wait_ready "$out/maps" "$maps_pid"
grep -q ' fail' "$out/maps" && die "map helper: $(grep ' fail' "$out/maps" | tr '\n' ' ')"
"$here/open_files" "$file_root" "$DIRS" "$FILES" >"$out/files.ready" 2>&1 </dev/null &
files_pid=$!
wait_ready "$out/files.ready" "$files_pid"
echo "INFO objects: hash map of $HASH_ELEMENTS elements; $CONNECTIONS loopback TCP connections" \
    "in an sk_storage map and an 8-byte-value sockmap; pid $files_pid with $FILES files open" \
    "and mapped in $DIRS directories"

# pair NAME QUERY MARKER FALLBACK_FLAG...: the same query with and without the flags that force
# the fallback. Both must give the same rows, and `bpfq explain` must show MARKER (the fallback's
# line of the plan) for the fallback only; then both are timed.
pair() {
    name=$1 query=$2 marker=$3
    shift 3
    "$BPFQ" -o csv --no-header "$query" 2>"$out/err" | sort >"$out/$name.direct" \
        || die "$name direct: $(head -n 1 "$out/err")"
    "$BPFQ" "$@" -o csv --no-header "$query" 2>"$out/err" | sort >"$out/$name.fallback" \
        || die "$name fallback: $(head -n 1 "$out/err")"
    same=DIFFERENT
    cmp -s "$out/$name.direct" "$out/$name.fallback" && same=same
    "$BPFQ" explain "$query" >"$out/$name.plan.direct" 2>&1
    "$BPFQ" explain "$@" "$query" >"$out/$name.plan.fallback" 2>&1
    plans=paths-ok
    grep -q "$marker" "$out/$name.plan.fallback" || plans=NO-FALLBACK
    grep -q "$marker" "$out/$name.plan.direct" && plans=DIRECT-IS-FALLBACK
    echo "PAIR $name $(wc -l <"$out/$name.direct") $(wc -l <"$out/$name.fallback") $same $plans"
    "$here/runbench" "$ROUNDS" "$WARMUP" "$out/$name.samples" \
        direct "$BPFQ" "$query" :: fallback "$BPFQ" "$@" "$query" >/dev/null \
        || die "runbench failed for $name"
    sed "s/^/SAMPLE $name /" "$out/$name.samples"
}

pair map_elem "from bpf_map_elem(map = \"$PINS/kt_hash\") select key, value" \
    'user-space map walk' --map-walk
pair sk_storage "from bpf_sk_storage_map(map = \"$PINS/kt_sk_storage\") select sport, dport, value" \
    'iterators calling bpf_sk_storage_get' --map-walk
pair sockmap "from sockmap(map = \"$PINS/kt_sockmap8\") select key, sport, dport" \
    "matching each socket's cookie" --map-walk
pair task_file "from task_file(pid = $files_pid) select fd, path" \
    'd_path: dentry walk' --assume-kernel-lacks d_path_in_iter
pair task_vma "from task_vma(pid = $files_pid) select start, path" \
    'd_path: dentry walk' --assume-kernel-lacks vma_file_path_trusted
