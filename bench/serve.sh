#!/usr/bin/env bash
# bench/serve.sh — `bpfq serve` (issue #12): one scrape of TCP sockets by state with 40,005
# sockets, against node_exporter's tcpstat collector and against counting /proc/net/tcp{,6}
# (what `ss -s` reads), interleaved in one run; then an idle serve's cost over a minute of 1 s
# scrapes (CPU time, peak RSS). Everything runs in a network namespace the script creates, so
# only its own sockets are counted; it removes the namespace and kills what it started.
#
# Usage: sudo bench/serve.sh [PATH_TO_BPFQ]     (default <repo>/target/release/bpfq, built if missing)
# Env:   BENCH_ROUNDS=N (21)  BENCH_IDLE_SECS=N (60)  BENCH_NO_INSTALL=1 (only name missing packages)
# Goals: a scrape <= 0.5x the /proc path; idle RSS <= 10 MB.
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/.." && pwd)
bpfq=${1:-${BPFQ:-$repo_root/target/release/bpfq}}
rounds=${BENCH_ROUNDS:-21}
idle_secs=${BENCH_IDLE_SECS:-60}
ns=bpfq_bench_serve_$$
work=$(mktemp -d)
pids=()

cleanup() {
    exec 3>&- 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    ip netns del "${ns}_idle" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

need=()
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    if [ -n "${BENCH_NO_INSTALL:-}" ]; then echo "missing: ${need[*]}" >&2; exit 1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x "$bpfq" ] || (cd "$repo_root" && cargo build --release --quiet)

ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

# 40,005 sockets: three holders of 6,667 loopback connections and a listener each; they hold
# until their stdin (a fifo this script keeps open on fd 3) closes.
mkfifo "$work/hold"
for i in 1 2 3; do
    ip netns exec "$ns" python3 "$repo_root/tests/helpers/hold_tcp.py" 6667 > "$work/holder.$i.out" < "$work/hold" &
    pids+=($!)
done
exec 3> "$work/hold"
for i in 1 2 3; do
    until grep -q ready "$work/holder.$i.out" 2>/dev/null; do sleep 0.2; done
done
sockets=$(in_ns cat /proc/net/tcp /proc/net/tcp6 | grep -vc 'local_address')
echo "sockets in the namespace: $sockets"

cat > "$work/tcp.bpfq" <<'Q'
--- TCP sockets by state.
metric bpfq_tcp_sockets = from tcp select state, count(*) as sockets group by state;
Q
# `ip netns exec` execs its command: $! is then bpfq's own pid (in_ns, a function, would fork).
ip netns exec "$ns" "$bpfq" serve --listen 127.0.0.1:9436 "$work/tcp.bpfq" 2> "$work/serve.log" &
serve_pid=$!; pids+=($serve_pid)
ip netns exec "$ns" prometheus-node-exporter --web.listen-address=127.0.0.1:9100 --collector.disable-defaults \
    --collector.tcpstat > /dev/null 2>&1 &
pids+=($!)
until in_ns curl -sf -o /dev/null 127.0.0.1:9436/healthz; do sleep 0.2; done
until in_ns curl -sf -o /dev/null 127.0.0.1:9100/metrics; do sleep 0.2; done

# One measurement in ms: a scrape over HTTP, or a /proc reader counting states.
scrape_ms() { in_ns curl -s -o /dev/null -w '%{time_total}\n' "$1" | awk '{printf "%.3f\n", $1 * 1000}'; }
proc_ms() {
    in_ns bash -c 'start=$(date +%s%N); awk "NR > 1 && \$4 != \"st\" { n[\$4]++ } END { for (s in n) c++ }" /proc/net/tcp /proc/net/tcp6; end=$(date +%s%N); echo "scale=3; ($end - $start) / 1000000" | bc'
}
command -v bc >/dev/null || { apt-get install -y -qq bc >/dev/null; }

: > "$work/bpfq.ms"; : > "$work/node.ms"; : > "$work/proc.ms"
for round in $(seq 0 "$rounds"); do
    b=$(scrape_ms 127.0.0.1:9436/metrics); n=$(scrape_ms 127.0.0.1:9100/metrics); p=$(proc_ms)
    [ "$round" -eq 0 ] && continue   # warm-up
    echo "$b" >> "$work/bpfq.ms"; echo "$n" >> "$work/node.ms"; echo "$p" >> "$work/proc.ms"
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mb=$(median "$work/bpfq.ms"); mn=$(median "$work/node.ms"); mp=$(median "$work/proc.ms")
echo
echo "scrape of TCP sockets by state, $sockets sockets, median of $rounds (ms):"
printf '  %-34s %8s  %s\n' "bpfq serve /metrics" "$mb" "$(echo "scale=2; $mb / $mp" | bc)x the /proc path"
printf '  %-34s %8s  %s\n' "node_exporter --collector.tcpstat" "$mn" "$(echo "scale=2; $mn / $mp" | bc)x the /proc path"
printf '  %-34s %8s\n' "/proc/net/tcp{,6} counted (awk)" "$mp"
echo "  bpfq's last run: $(in_ns curl -s 127.0.0.1:9436/metrics | grep '^bpfq_query_duration_seconds')"

# Idle cost: a scrape a second for BENCH_IDLE_SECS, by a serve in a second, fresh namespace
# (the first one keeps ~20,000 time-wait sockets for a minute once the holders end); CPU from
# /proc/PID/stat, peak VmRSS.
exec 3>&-   # the holders end
kill "$serve_pid"
idle_ns=${ns}_idle
ip netns add "$idle_ns"
ip -n "$idle_ns" link set lo up
ip netns exec "$idle_ns" "$bpfq" serve --listen 127.0.0.1:9436 "$work/tcp.bpfq" 2>> "$work/serve.log" &
serve_pid=$!; pids+=($serve_pid)
until ip netns exec "$idle_ns" curl -sf -o /dev/null 127.0.0.1:9436/healthz; do sleep 0.2; done
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{ print $14 + $15 }' "/proc/$serve_pid/stat"; }
rss_of() { awk '/^VmRSS/ { print $2 }' "/proc/$serve_pid/status"; }
cpu_start=$(cpu_of); peak=0
for _ in $(seq "$idle_secs"); do
    ip netns exec "$idle_ns" curl -s -o /dev/null 127.0.0.1:9436/metrics
    rss=$(rss_of); [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 1
done
cpu_end=$(cpu_of)
kill "$serve_pid"
ip netns del "$idle_ns"
echo
echo "idle serve over ${idle_secs} s at one scrape a second:"
echo "  CPU: $(echo "scale=3; ($cpu_end - $cpu_start) * 1000 / $ticks / $idle_secs" | bc) ms per second ($(echo "scale=2; ($cpu_end - $cpu_start) * 100 / $ticks / $idle_secs" | bc)% of one core)"
echo "  peak RSS: $((peak / 1024)).$(( (peak % 1024) * 10 / 1024 )) MB"
