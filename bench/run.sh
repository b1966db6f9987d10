#!/usr/bin/env bash
# bench/run.sh — reproduces DESIGN.md §6 in one run: bpfq against the tools it replaces and
# against clang-built C iterators, scenario by scenario, on objects the script creates.
#
# Scenarios (BENCH_SCENARIOS, default all, in this order):
#   tasks_idle  threads_1k  threads_10k  tcp_1k  tcp_20k  unix_10k  routes_1k  routes_10k  ksym
# Per scenario, interleaved round-robin over every tool, BENCH_ROUNDS rounds:
#   bpfq        the product (compile, load, read, format a table)
#   classic     ps / ss / ip, and a /proc reader (cat, or c/proc_tasks.c for threads)
#   bpftrace    `iter:task` (task scenarios only, when bpftrace is installed)
#   oneshot_c   libbpf loader: open the clang object, load, attach, read, close
#   pinned_cat  the same C iterator pinned once, read with cat: the floor
# Prints median/p10/p90 ms, median peak RSS, median CPU time (user + system, steadier than wall
# time on a shared machine), the ratio to the scenario's anchor, the goals of
# the issue as PASS/MISS, and a summary table at the end (the one in bench/README.md).
#
# Usage: bench/run.sh [PATH_TO_BPFQ]
# Env:   BPFQ=path           bpfq binary (default: <repo>/target/release/bpfq, built if missing)
#        BENCH_ROUNDS=N      measured rounds per scenario (default 15)
#        BENCH_WARMUP=N      unmeasured warm-up rounds (default 2)
#        BENCH_SCENARIOS=..  space-separated subset of the scenarios above
#        BENCH_SAMPLES=DIR   keep raw samples (label round wall_ns maxrss_kb cpu_ns), one file per scenario
#        BENCH_NO_INSTALL=1  never apt-get install missing tools, only name them
#        CLANG=clang         compiler for the BPF objects and the C helpers
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/.." && pwd)

rounds=${BENCH_ROUNDS:-15}
warmup=${BENCH_WARMUP:-2}
clang=${CLANG:-clang}
bpfq=${1:-${BPFQ:-$repo_root/target/release/bpfq}}
scenarios=${BENCH_SCENARIOS:-tasks_idle threads_1k threads_10k tcp_1k tcp_20k unix_10k routes_1k routes_10k ksym}
pin_prefix=/sys/fs/bpf/bpfq_bench_
netns_name=bpfq_bench_$$
iterators=(task tcp unix ipv6_route ksym)

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

# ---- cleanup: everything we create goes away, even on Ctrl-C ------------
work_dir=''
holder_pid=''
netns_made=0
pins=()
stop_holder() {
    if [[ -n $holder_pid ]]; then
        kill "$holder_pid" 2>/dev/null || true
        wait "$holder_pid" 2>/dev/null || true
        holder_pid=''
    fi
}
remove_netns() {
    if [[ $netns_made == 1 ]]; then
        ip netns delete "$netns_name" 2>/dev/null || true
        netns_made=0
    fi
}
cleanup() {
    stop_holder
    remove_netns
    local pin
    for pin in "${pins[@]}"; do rm -f "$pin"; done
    if [[ -n $work_dir ]]; then rm -rf "$work_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- prerequisites (installed with apt-get when missing) ----------------
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer (got '$rounds')"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer (got '$warmup')"
[[ $(id -u) == 0 ]] || die "run as root: loading BPF iterators needs CAP_BPF/CAP_PERFMON"
[[ -r /sys/kernel/btf/vmlinux ]] || die "/sys/kernel/btf/vmlinux missing: the kernel needs CONFIG_DEBUG_INFO_BTF"
mountpoint -q /sys/fs/bpf || die "/sys/fs/bpf is not mounted (mount -t bpf bpf /sys/fs/bpf)"

missing_packages() {
    local -a want=()
    command -v "$clang" >/dev/null || want+=(clang)
    command -v bpftool >/dev/null || want+=(bpftool)
    [[ -f /usr/include/bpf/bpf_helpers.h && -f /usr/include/bpf/libbpf.h ]] || want+=(libbpf-dev)
    command -v ps >/dev/null || want+=(procps)
    command -v ss >/dev/null && command -v ip >/dev/null || want+=(iproute2)
    command -v nsenter >/dev/null || want+=(util-linux)
    command -v python3 >/dev/null || want+=(python3)
    echo "${want[@]}"
}
needed=$(missing_packages)
if [[ -n $needed && -z ${BENCH_NO_INSTALL:-} ]] && command -v apt-get >/dev/null; then
    say "installing: $needed"
    # shellcheck disable=SC2086 # word splitting into package names is intended
    DEBIAN_FRONTEND=noninteractive apt-get install -y $needed >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y $needed >/dev/null; } \
        || die "apt-get install $needed failed"
    needed=$(missing_packages)
fi
[[ -z $needed ]] || die "missing packages: $needed"
# bpftrace is optional: only the task scenarios have an `iter:` probe to compare with.
if ! command -v bpftrace >/dev/null && [[ -z ${BENCH_NO_INSTALL:-} ]] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y bpftrace >/dev/null 2>&1 \
        || say "bpftrace not installable here; its column stays empty"
fi
have_bpftrace=0
if command -v bpftrace >/dev/null; then
    # Debian's bpftrace may not recognise the running kernel's task iterator (0.17 on 6.18 says
    # "iter task not available"): probe once and leave the column out rather than fail the run.
    if bpftrace -e 'iter:task { exit(); }' >/dev/null 2>&1; then
        have_bpftrace=1
    else
        say "bpftrace $(bpftrace --version 2>/dev/null | cut -d' ' -f2) cannot attach iter:task on this kernel; its column stays empty"
    fi
fi

if [[ ! -x $bpfq ]]; then
    if [[ -z ${1:-} && -z ${BPFQ:-} ]]; then
        say "$bpfq missing, building it (cargo build --release)"
        # Unset CARGO_TARGET_DIR so the binary lands where we look for it.
        (cd "$repo_root" && env -u CARGO_TARGET_DIR cargo build --release) \
            || die "cargo build --release failed"
    fi
    [[ -x $bpfq ]] || die "bpfq binary not found at $bpfq (pass a path or set BPFQ)"
fi

# ---- build the C anchors (once per run, in a temp dir) -------------------
work_dir=$(mktemp -d /tmp/bpfq-bench.XXXXXX)
samples_dir=${BENCH_SAMPLES:-$work_dir}
mkdir -p "$samples_dir"
say "building C anchors in $work_dir"
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$work_dir/vmlinux.h" \
    || die "bpftool could not dump vmlinux BTF"
for it in "${iterators[@]}"; do
    "$clang" -O2 -g -target bpf -I"$work_dir" \
        -c "$bench_dir/c/${it}_iter.bpf.c" -o "$work_dir/$it.bpf.o" \
        || die "clang failed on ${it}_iter.bpf.c"
done
"$clang" -O2 -Wall -o "$work_dir/oneshot" "$bench_dir/c/oneshot.c" -lbpf \
    || die "building oneshot.c failed (is libbpf-dev installed?)"
"$clang" -O2 -Wall -o "$work_dir/runbench" "$bench_dir/c/runbench.c" || die "building runbench.c failed"
"$clang" -O2 -Wall -o "$work_dir/proc_tasks" "$bench_dir/c/proc_tasks.c" || die "building proc_tasks.c failed"

for it in "${iterators[@]}"; do
    pin=$pin_prefix$it
    if [[ -e $pin ]]; then
        say "removing stale pin $pin from an earlier run"
        rm -f "$pin"
    fi
    pins+=("$pin") # recorded first so an interrupt right after the pin still removes it
    bpftool iter pin "$work_dir/$it.bpf.o" "$pin" || die "bpftool iter pin $it failed"
done

# ---- setup helpers ---------------------------------------------------------
# start_holder KIND N: a python3 process that owns N threads/connections/pairs until killed.
start_holder() {
    local ready="$work_dir/holder.ready"
    rm -f "$ready"
    python3 "$bench_dir/hold.py" "$1" "$2" >"$ready" &
    holder_pid=$!
    local waited=0
    until grep -q '^ready' "$ready" 2>/dev/null; do
        kill -0 "$holder_pid" 2>/dev/null || die "hold.py $1 $2 exited before it was ready"
        ((waited++ < 600)) || die "hold.py $1 $2 not ready after 60 s"
        sleep 0.1
    done
}

# make_routes N: a fresh network namespace with lo up and N extra /64 routes on it.
make_routes() {
    ip netns add "$netns_name" || die "ip netns add failed"
    netns_made=1
    ip -n "$netns_name" link set lo up
    local batch="$work_dir/routes.batch" i
    for ((i = 0; i < $1; i++)); do
        printf 'route add 2001:db8:%x:%x::/64 dev lo\n' $((i / 65536 + 1)) $((i % 65536))
    done >"$batch"
    ip -n "$netns_name" -6 -batch "$batch" || die "adding $1 routes failed"
}

# ---- measure -------------------------------------------------------------
# Per scenario: label, description, anchor label for the goal, goal ratio, the commands.
summary_file="$work_dir/summary.tsv"
: >"$summary_file"

# run_scenario NAME DESCRIPTION ANCHOR GOAL_RATIO [GOAL2_LABEL GOAL2_RATIO] -- runbench commands...
run_scenario() {
    local name=$1 description=$2 anchor=$3 goal=$4 anchor2=$5 goal2=$6
    shift 7
    say "$name: $rounds rounds (+$warmup warm-up)"
    local result
    result=$("$work_dir/runbench" "$rounds" "$warmup" "$samples_dir/$name.tsv" "$@") \
        || die "timing harness failed in $name"
    echo
    echo "== $name: $description"
    awk -F'\t' -v name="$name" -v anchor="$anchor" -v goal="$goal" -v anchor2="$anchor2" \
        -v goal2="$goal2" -v summary="$summary_file" '
        $1 == "harness_rss_kb" { next }
        { med[$1] = $2; p10[$1] = $3; p90[$1] = $4; rss[$1] = $5; cpu[$1] = $7; order[++n] = $1 }
        function verdict(ok) { return ok ? "PASS" : "MISS" }
        END {
            printf "%-14s %10s %10s %10s %10s %12s %10s %10s\n", "tool", "median ms", "p10 ms", "p90 ms", "x floor", "peak RSS KB", "CPU ms", "CPU x"
            for (i = 1; i <= n; i++) {
                t = order[i]
                printf "%-14s %10.2f %10.2f %10.2f %9.2fx %12d %10.2f %9.2fx\n", t, med[t], p10[t], p90[t], med[t] / med["pinned_cat"], rss[t], cpu[t], cpu[t] / cpu["pinned_cat"]
            }
            r = med["bpfq"] / med[anchor]
            rc = cpu["bpfq"] / cpu[anchor]
            if (goal == "ref") {
                # The issue sets goals at the larger sizes only; this size shows the trend.
                line = sprintf("reference (no goal at this size): bpfq/%s = %.2fx [CPU %.2fx]", anchor, r, rc)
            } else {
                line = sprintf("goal: bpfq/%s = %.2fx (<= %sx) %s [CPU %.2fx]", anchor, r, goal, verdict(r <= goal), rc)
            }
            if (anchor2 != "-" && goal == "ref") {
                line = line sprintf("; bpfq/%s = %.2fx [CPU %.2fx]", anchor2, med["bpfq"] / med[anchor2], cpu["bpfq"] / cpu[anchor2])
            } else if (anchor2 != "-") {
                r2 = med["bpfq"] / med[anchor2]
                line = line sprintf("; bpfq/%s = %.2fx (<= %sx) %s [CPU %.2fx]", anchor2, r2, goal2, verdict(r2 <= goal2), cpu["bpfq"] / cpu[anchor2])
            }
            line = line sprintf("; peak RSS %d KB (<= 8192) %s", rss["bpfq"], verdict(rss["bpfq"] <= 8192))
            print line
            classic = ""
            for (i = 1; i <= n; i++) if (order[i] != "bpfq" && order[i] != "oneshot_c" && order[i] != "pinned_cat") classic = classic sprintf("%s %.2f, ", order[i], med[order[i]])
            printf "%s\t%.2f\t%s\t%.2f\t%.2f\t%.2fx %s\t%.2fx\t%d\n", name, med["bpfq"], classic, med["oneshot_c"], med["pinned_cat"], r, anchor, rc, rss["bpfq"] >> summary
        }' <<<"$result"
}

# goal_at SIZE GOAL_SIZE RATIO: the issue's goal ratio at the size it names, "ref" at others.
goal_at() { if (($1 == $2)); then echo "$3"; else echo ref; fi; }

# count_rows LABEL BYTES_PER_ROW: rows in one read of the pinned C iterator (sanity line).
pinned_rows() { echo $(($(${3:-} cat "$pin_prefix$1" | wc -c) / $2)); }

bpftrace_task=(bpftrace -e 'iter:task { printf("%d %s\n", ctx->task->pid, ctx->task->comm); }')
q_task='from task select pid, comm'
q_tcp='from tcp select family, src, sport, dst, dport, state'
q_unix='from unix select type, state, inode, peer'
q_route='from ipv6_route select dst, dst_len, gateway, dev, metric'
q_ksym='from ksym select name, type, module, address'

task_scenario() { # NAME THREADS
    local name=$1 threads=$2 extra=()
    if ((threads > 0)); then start_holder threads "$threads"; fi
    if [[ $have_bpftrace == 1 ]]; then extra=(:: bpftrace "${bpftrace_task[@]}"); fi
    say "$name rows: bpfq=$("$bpfq" --no-header "$q_task" | wc -l) pinned-C=$(pinned_rows task 20) ps-eL=$(ps -eL --no-headers | wc -l)"
    if ((threads == 0)); then
        run_scenario "$name" "tasks, idle ($(pinned_rows task 20) threads)" ps 0.6 oneshot_c 0.3 -- \
            bpfq "$bpfq" "$q_task" :: ps ps -e -o pid,comm :: proc_tasks "$work_dir/proc_tasks" \
            "${extra[@]}" :: oneshot_c "$work_dir/oneshot" "$work_dir/task.bpf.o" :: pinned_cat cat "${pin_prefix}task"
    else
        run_scenario "$name" "tasks with $threads extra threads ($(pinned_rows task 20) threads)" \
            pinned_cat "$(goal_at "$threads" 10000 2)" - - -- \
            bpfq "$bpfq" "$q_task" :: ps_eL ps -eL -o pid,lwp,comm :: proc_tasks "$work_dir/proc_tasks" \
            "${extra[@]}" :: oneshot_c "$work_dir/oneshot" "$work_dir/task.bpf.o" :: pinned_cat cat "${pin_prefix}task"
    fi
    stop_holder
}

tcp_scenario() { # NAME CONNECTIONS
    start_holder tcp "$2"
    say "$1 rows: bpfq=$("$bpfq" --no-header "$q_tcp" | wc -l) pinned-C=$(pinned_rows tcp 24) ss=$(ss -tanH | wc -l)"
    run_scenario "$1" "$2 loopback connections ($(pinned_rows tcp 24) tcp sockets)" \
        pinned_cat "$(goal_at "$2" 20000 1.4)" - - -- \
        bpfq "$bpfq" "$q_tcp" :: ss ss -tan :: proc_cat cat /proc/net/tcp /proc/net/tcp6 \
        :: oneshot_c "$work_dir/oneshot" "$work_dir/tcp.bpf.o" :: pinned_cat cat "${pin_prefix}tcp"
    stop_holder
}

unix_scenario() { # NAME PAIRS
    start_holder unix "$2"
    say "$1 rows: bpfq=$("$bpfq" --no-header "$q_unix" | wc -l) pinned-C=$(pinned_rows unix 32) /proc=$(($(wc -l </proc/net/unix) - 1))"
    run_scenario "$1" "$2 socket pairs ($(($(wc -l </proc/net/unix) - 1)) unix sockets)" proc_cat 1.5 - - -- \
        bpfq "$bpfq" "$q_unix" :: ss ss -xa :: proc_cat cat /proc/net/unix \
        :: oneshot_c "$work_dir/oneshot" "$work_dir/unix.bpf.o" :: pinned_cat cat "${pin_prefix}unix"
    stop_holder
}

routes_scenario() { # NAME ROUTES
    make_routes "$2"
    # Every tool runs inside the namespace the same way: nsenter --net, no mount changes, so
    # the pinned iterator under /sys/fs/bpf stays reachable and reads this namespace's table.
    local in_ns=(nsenter --net="/run/netns/$netns_name")
    local rows
    rows=$(pinned_rows ipv6_route 64 "${in_ns[*]}")
    say "$1 rows: bpfq=$("${in_ns[@]}" "$bpfq" --no-header "$q_route" | wc -l) pinned-C=$rows /proc=$("${in_ns[@]}" cat /proc/net/ipv6_route | wc -l)"
    run_scenario "$1" "$2 extra routes in a namespace ($rows ipv6 routes)" \
        pinned_cat "$(goal_at "$2" 10000 1.5)" ip 1 -- \
        bpfq "${in_ns[@]}" "$bpfq" "$q_route" :: ip "${in_ns[@]}" ip -6 route show table all \
        :: proc_cat "${in_ns[@]}" cat /proc/net/ipv6_route \
        :: oneshot_c "${in_ns[@]}" "$work_dir/oneshot" "$work_dir/ipv6_route.bpf.o" \
        :: pinned_cat "${in_ns[@]}" cat "${pin_prefix}ipv6_route"
    remove_netns
}

ksym_scenario() {
    say "ksym rows: bpfq=$("$bpfq" --no-header "$q_ksym" | wc -l) pinned-C=$(pinned_rows ksym 584) /proc=$(wc -l </proc/kallsyms)"
    run_scenario ksym "kernel symbols ($(pinned_rows ksym 584) rows)" pinned_cat 1.3 - - -- \
        bpfq "$bpfq" "$q_ksym" :: proc_cat cat /proc/kallsyms \
        :: oneshot_c "$work_dir/oneshot" "$work_dir/ksym.bpf.o" :: pinned_cat cat "${pin_prefix}ksym"
}

echo "bpfq benchmark: $(uname -r), $(nproc) CPUs, $rounds rounds per scenario, $("$bpfq" --version)"
for scenario in $scenarios; do
    case $scenario in
    tasks_idle) task_scenario tasks_idle 0 ;;
    threads_1k) task_scenario threads_1k 1000 ;;
    threads_10k) task_scenario threads_10k 10000 ;;
    tcp_1k) tcp_scenario tcp_1k 1000 ;;
    tcp_20k) tcp_scenario tcp_20k 20000 ;;
    unix_10k) unix_scenario unix_10k 10000 ;;
    routes_1k) routes_scenario routes_1k 1000 ;;
    routes_10k) routes_scenario routes_10k 10000 ;;
    ksym) ksym_scenario ;;
    *) die "unknown scenario '$scenario'" ;;
    esac
done

echo
echo "== summary (medians in ms; ratio is bpfq over the goal's anchor)"
printf '| scenario | bpfq | classic tools | one-shot libbpf | pinned floor | bpfq ratio | CPU-time ratio | bpfq peak RSS KB |\n'
printf '|---|---|---|---|---|---|---|---|\n'
awk -F'\t' '{ sub(/, $/, "", $3); printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$summary_file"
if [[ -n ${BENCH_SAMPLES:-} ]]; then echo; echo "raw samples: $samples_dir"; fi
