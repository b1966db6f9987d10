#!/bin/sh
# Guarantees: runs every bpfq check of tests/kernels.sh on the kernel it finds itself on and prints
# exactly one `BPFQ-RESULT <check> <ok|fail|skip> <detail>` line per check (detail: one line; for a
# failure the first line of bpfq's error), framed by `BPFQ-INFO` lines and a final `BPFQ-DONE`
# line, so the host can tell a finished run from a hung or crashed one. One check failing never
# stops the others. It only needs busybox (no bash, python or bpftool in the guest).
#
# Two ways to run it:
#   - as /init of the initramfs that tests/kernels.sh boots under qemu (pid 1): it mounts what a
#     bare kernel lacks, runs the checks and powers the machine off;
#   - on the host, by tests/kernels.sh inside `unshare -m -n` (private mount and network
#     namespaces, so nothing it mounts, binds or routes touches the host), with PATH starting at
#     a directory of busybox applet links and BPFQ, EXAMPLES and SCRATCH set.
# With bpfq_run=SCRIPT in its environment (tests/kernels.sh --run) it runs SCRIPT instead of the
# checks, between a `BPFQ-RUN-START` line and a `BPFQ-RUN-END <exit status>` line.

# The kernel starts /init with no PATH.
export PATH="${PATH:-/bin:/sbin}"
BPFQ=${BPFQ:-/bin/bpfq}
EXAMPLES=${EXAMPLES:-/examples}
SCRATCH=${SCRATCH:-/tmp}
# Seconds one bpfq command may take. Under TCG a whole ksym dump takes a few seconds; a command
# that runs for a minute is hung, and the host's timeout for the whole boot is the backstop.
CMD_TIMEOUT=${CMD_TIMEOUT:-90}
# tests/kernels/maps.c, built by tests/kernels.sh: makes the maps the map-element targets walk.
MAPS_HELPER=${MAPS_HELPER:-/bin/bpfq-test-maps}
PINS=/sys/fs/bpf

is_guest=false
[ "$$" = 1 ] && is_guest=true

mounted() { grep -q " $1 " /proc/mounts 2>/dev/null; }

setup_guest() {
    # The kernel found no /dev/console in the initramfs, so pid 1 starts without stdin/out/err:
    # mount devtmpfs first, then take the serial console for all output.
    mkdir -p /dev /proc /sys /run /tmp
    mount -t devtmpfs devtmpfs /dev 2>/dev/null
    exec </dev/console >/dev/console 2>&1
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t tmpfs tmpfs /run
    mount -t tmpfs tmpfs /tmp
    # Kernel messages would interleave with the result lines on the serial console.
    echo 1 >/proc/sys/kernel/printk 2>/dev/null
}

setup_host() {
    # In a private mount namespace: a tmpfs /dev gives syslogd its /dev/log (the unix check)
    # without creating a socket in the host's /dev.
    mount -t tmpfs -o mode=0755 tmpfs /dev || exit 1
    mknod -m 666 /dev/null c 1 3
    mknod -m 666 /dev/zero c 1 5
    mknod -m 444 /dev/urandom c 1 9
    # A bpffs of our own: the test maps are pinned where the host cannot see them, and go with
    # the namespace.
    mount -t bpf bpf /sys/fs/bpf || exit 1
}

setup_common() {
    mkdir -p "$SCRATCH"
    mounted /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
    mounted /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
    ip link set lo up
}

# --- result lines -----------------------------------------------------------------------------

# One line, no tabs or carriage returns, at most 200 characters: the host parses it as one cell.
oneline() { tr '\t\r' '  ' | head -n 1 | cut -c 1-200; }

result() { echo "BPFQ-RESULT $1 $2 $(echo "$3" | oneline)"; }

# The first line of an error worth showing: bpfq's own `error...` line if there is one (a
# diagnostic's later lines are source excerpts), else the first non-empty line. A verifier
# refusal's first line only says that the program was refused: its `from:` (the query clause)
# and `why:` lines say what went wrong, so those are shown instead.
first_error() {
    if grep -q "^bpfq: the kernel's verifier refused" "$1"; then
        where=$(sed -n 's/^it stopped at .*from: //p' "$1" | head -n 1)
        why=$(sed -n 's/^why: //p' "$1" | head -n 1)
        case $why in
            "not a reason bpfq recognises"*)
                log=$(sed -n 's/^verifier log: //p' "$1" | head -n 1)
                [ -n "$log" ] && why="$log (log)" ;;
        esac
        echo "verifier refused${where:+ ($where)}: ${why:-?}"
        return
    fi
    line=$(grep -m 1 '^error' "$1")
    [ -n "$line" ] || line=$(grep -m 1 . "$1")
    echo "$line"
}

# check NAME COMMAND [ARG...]: runs the command (a program or a shell function of this script)
# with stdout to $SCRATCH/out and stderr to $SCRATCH/err. Exit 0 is ok, with the first line of
# $SCRATCH/detail as detail if the command wrote one; anything else is a failure whose detail
# is the first error line. Each runs under `timeout`, so one hung command costs one check.
check() {
    c_name=$1
    shift
    : >"$SCRATCH/detail"
    c_t0=$(centisecs)
    if [ "$(type "$1" 2>/dev/null | grep -c function)" -gt 0 ]; then
        ( "$@" ) >"$SCRATCH/out" 2>"$SCRATCH/err"
    else
        timeout "$CMD_TIMEOUT" "$@" >"$SCRATCH/out" 2>"$SCRATCH/err"
    fi
    c_rc=$?
    c_cs=$(( $(centisecs) - c_t0 ))
    c_secs=$((c_cs / 100)).$((c_cs / 10 % 10))
    if [ "$c_rc" = 0 ]; then
        result "$c_name" ok "$(head -n 1 "$SCRATCH/detail")"
    else
        c_why=$(first_error "$SCRATCH/err")
        [ -n "$c_why" ] || c_why=$(first_error "$SCRATCH/out")
        [ "$c_rc" = 143 ] && c_why="timed out after ${CMD_TIMEOUT}s"
        result "$c_name" fail "${c_why:-no message} (exit $c_rc, ${c_secs}s)"
    fi
    # How long each check took, for finding what makes a guest slow (the matrix ignores it).
    echo "BPFQ-TIME $c_name $c_secs"
}

skip() { result "$1" skip "$2"; }

# Time since boot in hundredths of a second (busybox's date has no sub-second format).
centisecs() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }

# bpfq under the per-command timeout. When the kernel refused a program for a reason bpfq does
# not put in words, the verifier's log has it: run again with --verbose and add the log's last
# line (before its statistics) to stderr as `verifier log: ...`.
bq() {
    timeout "$CMD_TIMEOUT" "$BPFQ" "$@" 2>"$SCRATCH/bq.err"
    bq_rc=$?
    cat "$SCRATCH/bq.err" >&2
    if [ "$bq_rc" != 0 ] && grep -q "not a reason bpfq recognises" "$SCRATCH/bq.err"; then
        timeout "$CMD_TIMEOUT" "$BPFQ" --verbose "$@" >/dev/null 2>"$SCRATCH/bq.verbose"
        line=$(sed -n "/^the verifier's log/,\$p" "$SCRATCH/bq.verbose" | sed 1d \
            | grep -v -E '^(processed [0-9]+ insns|verification time|stack depth|this is a bug|bpfq compiled this program|$)' \
            | tail -n 1)
        [ -n "$line" ] && echo "verifier log: $line" >&2
    fi
    return "$bq_rc"
}

# --- checks -----------------------------------------------------------------------------------

version_check() { "$BPFQ" --version >"$SCRATCH/detail"; }

# `bpfq doctor`'s verdict on target $1, from one doctor run kept in $SCRATCH/doctor: works (ok),
# works with fallback (ok, the fallback as detail) or unavailable (a failure, the reason).
doctor_check() {
    [ -s "$SCRATCH/doctor" ] || "$BPFQ" doctor -o tsv --no-header >"$SCRATCH/doctor" || return 1
    line=$(grep "^target $1	" "$SCRATCH/doctor") || { echo "doctor lists no $1" >&2; return 1; }
    status=$(echo "$line" | cut -f 2)
    detail=$(echo "$line" | cut -f 3)
    case $status in
        works) ;;
        "works with fallback") echo "with fallback: $detail" >"$SCRATCH/detail" ;;
        *) echo "$status: $detail" >&2; return 1 ;;
    esac
}

# The targets bpfq lists for this kernel, one name a line (the first column of `bpfq targets`).
list_targets() { "$BPFQ" targets | awk 'NR > 1 && NF { print $1 }'; }

targets_check() {
    list_targets >"$SCRATCH/targets" || return 1
    [ -s "$SCRATCH/targets" ] || { echo "no targets listed" >&2; return 1; }
    echo "$(wc -l <"$SCRATCH/targets") targets: $(tr '\n' ' ' <"$SCRATCH/targets")" >"$SCRATCH/detail"
}

# IDs of the BPF programs, maps or links alive now with their names (bpfq's own iterator
# program and link are in the list too, with new ids each time: they are filtered by name).
object_ids() {
    case $1 in
        bpf_prog) cols="id, name" ;;
        bpf_link) cols="id, prog_name" ;;
        *) cols="id, name" ;;
    esac
    bq -o csv --no-header "from $1 select $cols" >"$SCRATCH/ids" || return 1
    grep -v ",bpfq_$1\$" "$SCRATCH/ids"
    return 0
}

# Objects of kind $1 alive at the end that were not there at the start and stay for another
# two seconds (on the host, other programs come and go: only a lasting newcomer is a leak).
leak_check() {
    kind=$1
    [ -f "$SCRATCH/before.$kind" ] || { echo "no count before the checks" >&2; return 1; }
    object_ids "$kind" >"$SCRATCH/after.$kind" || return 1
    grep -v -x -F -f "$SCRATCH/before.$kind" "$SCRATCH/after.$kind" >"$SCRATCH/new.$kind"
    if [ -s "$SCRATCH/new.$kind" ]; then
        sleep 2
        object_ids "$kind" >"$SCRATCH/later.$kind" || return 1
        if grep -x -F -f "$SCRATCH/later.$kind" "$SCRATCH/new.$kind" >"$SCRATCH/left.$kind"; then
            echo "$(wc -l <"$SCRATCH/left.$kind") left behind: $(tr '\n' ' ' <"$SCRATCH/left.$kind")" >&2
            return 1
        fi
    fi
    echo "$(wc -l <"$SCRATCH/before.$kind") before, $(wc -l <"$SCRATCH/after.$kind") after" >"$SCRATCH/detail"
}

# A process bpfq must find with the pid and comm /proc gives it.
task_value() {
    sleep 1000 &
    sp=$!
    got=$(bq -o csv --no-header "from task select pid, comm where pid == $sp")
    rc=$?
    want="$sp,$(cat "/proc/$sp/comm")"
    kill "$sp"
    [ "$rc" = 0 ] || return 1
    [ "$got" = "$want" ] || { echo "got '$got', /proc says '$want'" >&2; return 1; }
    echo "$got" >"$SCRATCH/detail"
}

# wait_for FILE PATTERN: up to 5 s for a socket to show in /proc/net (grep -i).
wait_for() {
    n=0
    while ! grep -qi "$2" "$1" 2>/dev/null; do
        n=$((n + 1))
        [ "$n" -gt 50 ] && return 1
        sleep 0.1
    done
}

# A TCP listener on port 7777 (busybox nc), seen in /proc/net/tcp6 or tcp, must be a tcp row.
tcp_value() {
    nc -l -p 7777 </dev/null >/dev/null 2>&1 &
    np=$!
    wait_for /proc/net/tcp6 ':1E61 ' || wait_for /proc/net/tcp ':1E61 ' \
        || { kill "$np"; echo "nc never listened on 7777" >&2; return 1; }
    got=$(bq -o csv --no-header "from tcp select sport, state where sport == 7777")
    rc=$?
    kill "$np"
    [ "$rc" = 0 ] || return 1
    [ "$got" = "7777,TCP_LISTEN" ] || { echo "got '$got', want '7777,TCP_LISTEN'" >&2; return 1; }
    echo "$got" >"$SCRATCH/detail"
}

# busybox syslogd binds the unix socket /dev/log; bpfq must show it with /proc/net/unix's inode.
unix_value() {
    syslogd -n -O "$SCRATCH/syslog" &
    sp=$!
    wait_for /proc/net/unix ' /dev/log$' || { kill "$sp"; echo "syslogd never bound /dev/log" >&2; return 1; }
    want="$(awk '$8 == "/dev/log" { print $7 }' /proc/net/unix),/dev/log"
    got=$(bq -o csv --no-header 'from unix select inode, path where path == "/dev/log"')
    rc=$?
    kill "$sp"
    [ "$rc" = 0 ] || return 1
    [ "$got" = "$want" ] || { echo "got '$got', /proc/net/unix says '$want'" >&2; return 1; }
    echo "$got" >"$SCRATCH/detail"
}

# A route added on lo must be an ipv6_route row.
ipv6_route_value() {
    ip -6 route add 2001:db8:7::/64 dev lo || { echo "ip -6 route add failed" >&2; return 1; }
    got=$(bq -o csv --no-header 'from ipv6_route select dst, dst_len, dev where dst_len == 64')
    rc=$?
    ip -6 route del 2001:db8:7::/64 dev lo
    [ "$rc" = 0 ] || return 1
    echo "$got" | grep -qx '2001:db8:7::,64,lo' \
        || { echo "2001:db8:7::/64 dev lo not among: $(echo "$got" | tr '\n' ' ')" >&2; return 1; }
    echo "2001:db8:7::,64,lo" >"$SCRATCH/detail"
}

# A grouped count must give about as many tasks as the ungrouped query lists ($1: auto, which
# groups in the kernel where it can, or user).
group_value() {
    total=$(bq -o csv --no-header --group-in "$1" 'from task select count(*)') || return 1
    rows=$(bq -o csv --no-header 'from task select pid' | wc -l)
    groups=$(bq -o csv --no-header --group-in "$1" 'from task select comm, count(*) group by comm') || return 1
    # Tasks come and go between the queries (kworkers in a guest, anything on the host): accept
    # a difference of 10%.
    if [ "$total" -le 0 ] || [ $((10 * (total - rows))) -gt "$rows" ] || [ $((10 * (rows - total))) -gt "$rows" ]; then
        echo "count(*) = $total, but $rows rows" >&2
        return 1
    fi
    echo "count(*) = $total, $(echo "$groups" | wc -l) groups by comm" >"$SCRATCH/detail"
}

# The --param arguments an example file needs (a process that exists here: this script).
example_params() {
    case $(basename "$1") in
        children_of.bpfq | threads_of.bpfq | ancestors.bpfq | maps_of.bpfq | open_files.bpfq)
            echo "--param pid=$$" ;;
    esac
}

# The iterator targets an example file queries (after `from` or `join`, comments left out) that
# this kernel does not offer: such a file cannot compile here (E0101), rightly.
missing_targets() {
    sed 's/--.*//' "$1" | grep -o -E '(^|[^a-z_.])(from|join)[[:space:]]+[a-z_0-9]+' \
        | awk '{ print $NF }' | sort -u | while read -r t; do
            grep -qx "$t" "$SCRATCH/targets" 2>/dev/null || echo "$t"
        done | tr '\n' ' ' | sed 's/ $//'
}

# Starts the map helper (in the background, until stop_maps); its lines say which maps it made.
start_maps() {
    : >"$SCRATCH/maps"
    [ -x "$MAPS_HELPER" ] || { echo "no map helper (tests/kernels/maps.c) in this image" >"$SCRATCH/maps"; return; }
    "$MAPS_HELPER" "$PINS" >"$SCRATCH/maps" 2>&1 </dev/null &
    maps_pid=$!
    wait_for "$SCRATCH/maps" '^ready$' || echo "the map helper never got ready" >>"$SCRATCH/maps"
}

stop_maps() {
    [ -n "${maps_pid:-}" ] && kill "$maps_pid"
    rm -f "$PINS/kt_hash" "$PINS/kt_sockmap" "$PINS/kt_sockmap8" "$PINS/kt_sk_storage"
}

# map_ready KIND: true when the helper made that map; else prints why not.
map_ready() {
    grep -qx "$1 ok" "$SCRATCH/maps" && return 0
    why=$(grep -m 1 "^$1 fail" "$SCRATCH/maps" | cut -d ' ' -f 3-)
    [ -n "$why" ] || why=$(head -n 1 "$SCRATCH/maps")
    echo "could not make the map: ${why:-helper said nothing}"
    return 1
}

# The ports of the helper's loopback connection, "LOCAL,REMOTE" as bpfq prints sport, dport.
client_ports() { awk '$1 == "client" { print $2 "," $3 }' "$SCRATCH/maps"; }

hash_elem_value() {
    got=$(bq -o csv --no-header "from bpf_map_elem(map = \"$PINS/kt_hash\") select key, value") || return 1
    got=$(echo "$got" | sort | tr '\n' ' ' | sed 's/ $//')
    [ "$got" = "1,10 2,20 3,30" ] || { echo "got '$got', want '1,10 2,20 3,30'" >&2; return 1; }
    echo "$got" >"$SCRATCH/detail"
}

# sockmap_value MAP [FLAG...]: the helper's client socket must be the one row of the sockmap.
sockmap_value() {
    map=$1
    shift
    want="0,$(client_ports)"
    got=$(bq "$@" -o csv --no-header "from sockmap(map = \"$PINS/$map\") select key, sport, dport") || return 1
    [ "$got" = "$want" ] || { echo "got '$got', want '$want'" >&2; return 1; }
    echo "$got" >"$SCRATCH/detail"
}

# The sockmap of 4-byte values: its row where the kernel loads the sockmap program; where it
# refuses it (doctor: works with fallback), user space cannot find the map's sockets, and bpfq
# must say so (E0305, the map's values) rather than print rows or fail otherwise.
sockmap_u32_value() {
    [ -s "$SCRATCH/doctor" ] || "$BPFQ" doctor -o tsv --no-header >"$SCRATCH/doctor" || return 1
    if ! grep -q "^target sockmap	works with fallback" "$SCRATCH/doctor"; then
        sockmap_value kt_sockmap
        return
    fi
    if bq -o csv --no-header "from sockmap(map = \"$PINS/kt_sockmap\") select key" >/dev/null 2>"$SCRATCH/u32.err"; then
        echo "rows from a sockmap of 4-byte values where the kernel refuses its program" >&2
        return 1
    fi
    grep -q '^error\[E0305\]: .*values are 4 bytes' "$SCRATCH/u32.err" || { cat "$SCRATCH/u32.err" >&2; return 1; }
    echo "E0305 as it should: sockmap programs refused, 4-byte values give no cookies" >"$SCRATCH/detail"
}

sk_storage_value() {
    want="$(client_ports),1000"
    got=$(bq -o csv --no-header "from bpf_sk_storage_map(map = \"$PINS/kt_sk_storage\") select sport, dport, value") \
        || return 1
    [ "$got" = "$want" ] || { echo "got '$got', want '$want'" >&2; return 1; }
    echo "$got" >"$SCRATCH/detail"
}

# Runs one example file; sockets.bpfq holds two named queries, run one after the other.
run_example() {
    f=$1
    case $(basename "$f") in
        sockets.bpfq)
            bq run "$f" on_port --param port=7777 >/dev/null || return 1
            bq run "$f" listeners >/dev/null ;;
        *)
            # shellcheck disable=SC2046 # the parameters are words
            bq -f "$f" $(example_params "$f") >/dev/null ;;
    esac
}

# --- main -------------------------------------------------------------------------------------

if $is_guest; then setup_guest; else setup_host; fi
setup_common

echo "BPFQ-INFO kernel $(uname -r)"
echo "BPFQ-INFO cmdline $(cat /proc/cmdline 2>/dev/null)"
lockdown=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/security/lockdown 2>/dev/null)
echo "BPFQ-INFO lockdown ${lockdown:-unknown}"
start=$(date +%s)

# The end of a run: a guest powers its machine off.
finish() {
    if $is_guest; then
        sync
        poweroff -f
    fi
}

if [ -n "${bpfq_run:-}" ]; then
    echo "BPFQ-RUN-START"
    sh "$bpfq_run"
    echo "BPFQ-RUN-END $?"
    finish
    exit 0
fi

check version version_check
check targets targets_check

# The helper's maps exist from before the leak checks' baselines to after their ends.
start_maps

# Baselines for the leak checks, before any other bpfq run.
for kind in bpf_prog bpf_map bpf_link; do
    if grep -qx "$kind" "$SCRATCH/targets" 2>/dev/null; then
        object_ids "$kind" >"$SCRATCH/before.$kind" 2>"$SCRATCH/before.$kind.err" \
            || rm -f "$SCRATCH/before.$kind"
    fi
done

# The stdlib columns `bpfq describe` lists for a target (given as it is written after `from`),
# comma-separated.
stdlib_columns() {
    timeout "$CMD_TIMEOUT" "$BPFQ" describe "${1%%(*}" 2>/dev/null | awk '
        /^stdlib columns:/ { on = 1; next }
        on && /^  \(select/ { exit }
        on && /^  [a-z_0-9]+ / { printf "%s%s", sep, $1; sep = ", " }'
}

# shellcheck disable=SC2013 # target names are words
for t in $(cat "$SCRATCH/targets" 2>/dev/null); do
    # The map-element targets walk one map each: the helper's.
    case $t in
        bpf_map_elem) map="hash" ;;
        sockmap) map="sockmap8" ;;
        bpf_sk_storage_map) map="sk_storage" ;;
        *) map= ;;
    esac
    if [ -z "$map" ]; then
        from="$t"
    elif why=$(map_ready "$map"); then
        from="$t(map = \"$PINS/kt_$map\")"
    else
        skip "target:$t" "$why"
        skip "columns:$t" "$why"
        continue
    fi
    check "doctor:$t" doctor_check "$t"
    check "target:$t" bq "from $from select *"
    # Every stdlib column of the target at once (`bpfq describe` lists them), not only the
    # defaults: a field that moved between releases shows here.
    cols=$(stdlib_columns "$from")
    if [ -n "$cols" ]; then
        check "columns:$t" bq "from $from select $cols"
    else
        skip "columns:$t" "bpfq describe lists no stdlib column"
    fi
done

for f in "$EXAMPLES"/*.bpfq; do
    name=$(basename "$f")
    missing=$(missing_targets "$f")
    if [ -n "$missing" ]; then
        skip "check:$name" "no $missing target on this kernel"
        skip "run:$name" "no $missing target on this kernel"
        continue
    fi
    case $name in
        sk_storage.bpfq)
            check "check:$name" bq check --map-shape sk_storage:4:8 --param map=x "$f"
            if why=$(map_ready sk_storage); then
                check "run:$name" bq -f "$f" --param map="$PINS/kt_sk_storage"
            else
                skip "run:$name" "$why"
            fi ;;
        *)
            # shellcheck disable=SC2046 # the parameters are words
            check "check:$name" bq check $(example_params "$f") "$f"
            check "run:$name" run_example "$f" ;;
    esac
done

# A value check of a target this kernel does not offer gives no line (the matrix shows `–`).
for t in task tcp unix ipv6_route; do
    grep -qx "$t" "$SCRATCH/targets" 2>/dev/null && check "value:$t" "${t}_value"
done
# value:sockmap:fallback reads the same sockmap as value:sockmap through the socket iterators
# (--map-walk plans as a kernel refusing map-element programs would), where the kernel would
# otherwise load the sockmap program: the two paths' rows (and BPFQ-TIME lines) side by side.
for check_map in hash:hash sockmap:sockmap8 sockmap:fallback:sockmap8 sockmap:u32:sockmap \
    sk_storage:sk_storage; do
    map=${check_map##*:}
    case ${check_map%:*} in
        hash) t=bpf_map_elem name=bpf_map_elem f=hash_elem_value ;;
        sockmap) t=sockmap name=sockmap f="sockmap_value kt_sockmap8" ;;
        sockmap:fallback) t=sockmap name=sockmap:fallback f="sockmap_value kt_sockmap8 --map-walk" ;;
        sockmap:u32) t=sockmap name=sockmap:u32 f=sockmap_u32_value ;;
        sk_storage) t=bpf_sk_storage_map name=bpf_sk_storage_map f=sk_storage_value ;;
    esac
    grep -qx "$t" "$SCRATCH/targets" 2>/dev/null || continue
    if why=$(map_ready "$map"); then
        # shellcheck disable=SC2086 # the function and its arguments are words
        check "value:$name" $f
    else
        skip "value:$name" "$why"
    fi
done
check group:auto group_value auto
check group:user group_value user

for kind in bpf_prog bpf_map bpf_link; do
    if grep -qx "$kind" "$SCRATCH/targets" 2>/dev/null; then
        if [ -f "$SCRATCH/before.$kind" ]; then
            check "leak:$kind" leak_check "$kind"
        else
            result "leak:$kind" fail "cannot list them: $(first_error "$SCRATCH/before.$kind.err")"
        fi
    fi
done

stop_maps
echo "BPFQ-DONE $(( $(date +%s) - start ))s"
finish
