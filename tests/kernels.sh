#!/usr/bin/env bash
# Guarantees: runs tests/kernels/guest.sh against Debian's kernels booted under qemu (TCG) — and
# this machine's own kernel, in private namespaces — and writes the results as one Markdown
# table, tests/kernels/MATRIX.md (rows: checks, columns: kernels). Exits 0 only when every check
# of every kernel asked for passed (or was skipped) and every guest ran to its end; with
# --report-only it exits 0 whenever the matrix was written. Every qemu it starts runs under a
# timeout and is killed, by pid, when the script ends for any reason. The system's apt sources
# are never changed: kernels come from a private apt configuration under the cache directory,
# and a kernel once extracted is never downloaded again.
#
#   tests/kernels.sh [--report-only] [--jobs N] [--refresh] [--run DIR] [KERNEL...]
#
# KERNEL: 5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie), 6.12-lockdown (trixie booted with
# lockdown=integrity), 6.12-confidentiality (lockdown=confidentiality: what still runs where
# BPF may not read kernel memory), host (this machine's kernel, guest.sh run in
# `unshare -m -n`). Default: all but 6.12-confidentiality. --jobs: guests booted at once (default 2; TCG uses one host core per busy vCPU).
# --refresh: re-read the package lists now (else at most once a day) to pick up newer kernels.
# --run DIR: the guests run DIR/run.sh (busybox sh; DIR is the initramfs's /guest-run) instead of
# the checks, and its output, framed by BPFQ-RUN-START and BPFQ-RUN-END <exit status> lines, goes
# to stdout instead of a matrix (bench/fallbacks.sh); exits 0 only when every run.sh did.
# Environment: BPFQ_KERNELS_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/bpfq-kernels),
# BOOT_TIMEOUT (seconds per guest, default 600), QEMU_EXTRA (more qemu arguments, split on spaces:
# bench/fallbacks.sh's `-icount`).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

report_only=false
run_dir=
jobs=2
refresh=false
kernels=()
while [ $# -gt 0 ]; do
    case $1 in
        --report-only) report_only=true ;;
        --jobs) jobs=$2; shift ;;
        --refresh) refresh=true ;;
        --run) run_dir=$2; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        5.10 | 6.1 | 6.12 | 6.12-lockdown | 6.12-confidentiality | host) kernels+=("$1") ;;
        *) echo "tests/kernels.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#kernels[@]} -gt 0 ] || kernels=(5.10 6.1 6.12 6.12-lockdown host)
if [ -n "$run_dir" ]; then
    [ -f "$run_dir/run.sh" ] || { echo "tests/kernels.sh: --run $run_dir: no run.sh there" >&2; exit 2; }
    for k in "${kernels[@]}"; do
        [ "$k" != host ] || { echo "tests/kernels.sh: --run boots guests only, not host" >&2; exit 2; }
    done
fi

cache=${BPFQ_KERNELS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfq-kernels}
boot_timeout=${BOOT_TIMEOUT:-600}
run_start=$(date +%s)
log() { echo "kernels.sh: $*" >&2; }

# Everything of this run (initramfs, console logs) lives here, removed at exit; the qemu pids
# are read from the pidfiles qemu writes there, so only our own qemus are ever killed.
mkdir -p "$cache"
work=$(mktemp -d "$cache/run.XXXXXX")
waiters=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    local f pid
    for f in "$work"/*.qemu.pid "$work"/*.timeout.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    for pid in "${waiters[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools --------------------------------------------------------------------------------------

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
# The initramfs gets the host's busybox: it must be the static one.
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- kernels ------------------------------------------------------------------------------------

# A private apt configuration: its own sources (bullseye and trixie are not the system's), lists
# and cache, so neither /etc/apt nor /var/lib/apt/lists change.
apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
cat >"$apt_dir/sources.list" <<'EOF'
deb http://deb.debian.org/debian bullseye main
deb http://deb.debian.org/debian-security bullseye-security main
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
deb http://deb.debian.org/debian trixie main
deb http://deb.debian.org/debian trixie-updates main
deb http://deb.debian.org/debian-security trixie-security main
EOF
apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
    -o "Dir::Etc::sourceparts=$apt_dir/parts"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Sandbox::User=root"
)

# The lists are re-read at most once a day (or with --refresh): a warm run downloads nothing.
lists_fresh() {
    local stamp=$apt_dir/lists/.updated
    [ -f "$stamp" ] && [ -z "$(find "$stamp" -mmin +1440)" ]
}
update_lists() {
    if $refresh || ! lists_fresh; then
        log "reading Debian's package lists (bullseye, bookworm, trixie)"
        # --error-on=any: a list that could not be fetched is a failure, not a warning.
        if apt-get -qq --error-on=any "${apt_opts[@]}" update; then
            touch "$apt_dir/lists/.updated"
        else
            log "apt-get update failed: using the lists and kernels already cached"
        fi
    fi
}

# The newest linux-image package of a series that the archive can deliver, e.g.
# linux-image-5.10.0-46-amd64 for '5\.10\.0-[0-9]+' (the signed image: -kernel boots it as well).
newest_image() {
    # `search` lists only packages with a version in the lists (pkgnames would also list names
    # other packages merely refer to).
    { apt-cache "${apt_opts[@]}" search --names-only "^linux-image-$1-amd64\$" 2>/dev/null || true; } \
        | awk '{ print $1 }' | sort -V | tail -n 1
}

# fetch PACKAGE: downloads it and keeps only its boot/vmlinuz-* (and config) as
# $cache/kernels/PACKAGE/{vmlinuz,config}; the .deb (100+ MB with its modules, of which the
# guest needs none) is deleted after extraction.
fetch() {
    local dir=$cache/kernels/$1 tmp
    log "downloading $1"
    tmp=$(mktemp -d "$cache/dl.XXXXXX")
    if ! (cd "$tmp" && apt-get -qq "${apt_opts[@]}" download "$1"); then
        rm -rf "$tmp"
        return 1
    fi
    dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' './boot/config-*'
    mkdir -p "$dir"
    mv "$tmp"/boot/config-* "$dir/config"
    mv "$tmp"/boot/vmlinuz-* "$dir/vmlinuz"    # last: its presence means the entry is whole
    rm -rf "$tmp"
}

# kernel_for LABEL: prints the path of the vmlinuz for that label: the newest kernel of its
# series in the lists, downloaded once; else the newest one cached.
kernel_for() {
    local series pkg cached
    case $1 in
        5.10) series='5\.10\.0-[0-9]+' ;;
        6.1) series='6\.1\.0-[0-9]+' ;;
        6.12 | 6.12-lockdown | 6.12-confidentiality) series='6\.12\.[0-9]+\+deb13' ;;
    esac
    cached=$(find "$cache/kernels" -mindepth 2 -maxdepth 2 -name vmlinuz -printf '%h\n' 2>/dev/null \
        | xargs -r -n 1 basename | grep -E "^linux-image-$series-amd64\$" | sort -V | tail -n 1)
    pkg=$(newest_image "$series")
    if [ -n "$pkg" ] && [ ! -f "$cache/kernels/$pkg/vmlinuz" ] && ! fetch "$pkg"; then
        # Lists a day old may name a kernel the archive has since replaced (security updates
        # do): read them again, once.
        refresh=true update_lists
        pkg=$(newest_image "$series")
        [ -n "$pkg" ] && { [ -f "$cache/kernels/$pkg/vmlinuz" ] || fetch "$pkg"; } || pkg=
    fi
    if [ -z "$pkg" ] || [ ! -f "$cache/kernels/$pkg/vmlinuz" ]; then
        # Offline, or the archive failed us: the newest kernel of the series already cached.
        [ -n "$cached" ] || { log "no linux-image package for $1 in the lists or the cache"; return 1; }
        log "using the cached $cached"
        pkg=$cached
    fi
    echo "$cache/kernels/$pkg/vmlinuz"
}

# Resolved before the build so a download failure shows at once; each label's kernel path.
declare -A vmlinuz
[ "${kernels[*]}" = host ] || update_lists
for k in "${kernels[@]}"; do
    [ "$k" = host ] && continue
    vmlinuz[$k]=$(kernel_for "$k")
done

# --- bpfq, static -------------------------------------------------------------------------------

# crt-static with an explicit --target: a static-pie binary that runs on any kernel's initramfs,
# built under target/x86_64-unknown-linux-gnu/, away from the normal build's artifacts. The guest
# profile (Cargo.toml) is release without fat LTO: rebuilt in seconds after an edit.
log "building a static bpfq (cargo --profile guest)"
build_start=$(date +%s)
RUSTFLAGS='-C target-feature=+crt-static' cargo build -q --locked --profile guest \
    --target x86_64-unknown-linux-gnu
bpfq=$(realpath "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-gnu/guest/bpfq
build_secs=$(( $(date +%s) - build_start ))

# --- initramfs ----------------------------------------------------------------------------------

# busybox and its applet links, bpfq, the examples and guest.sh as /init; one image for all.
root=$work/root
mkdir -p "$root/bin" "$root/examples"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
cp "$bpfq" "$root/bin/bpfq"
# The helper that makes the maps the map-element targets walk (no bpftool or python in a guest).
# Static like bpfq (libc6-dev, which the static bpfq needs too); without a C compiler those
# checks are skipped, and the matrix says why.
if command -v cc >/dev/null; then
    cc -static -O2 -o "$root/bin/bpfq-test-maps" tests/kernels/maps.c || log "tests/kernels/maps.c did not build"
fi
cp -r examples/. "$root/examples/"
cp tests/kernels/guest.sh "$root/init"
[ -z "$run_dir" ] || cp -r "$run_dir" "$root/guest-run"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initrd.gz")

# --- runs ---------------------------------------------------------------------------------------

# boot LABEL: one qemu under timeout, its console in $work/LABEL.log, its wall time in
# $work/LABEL.secs. -cpu max under TCG: /dev/kvm here is a paravirtual KVM on which Debian's
# kernels hang. No NIC (and so no option ROM to load); the guest needs only the serial console.
boot() {
    local label=$1 attempt
    # A guest that crashes before its first check is booted once more: under multi-threaded TCG
    # a kernel patching its own code at boot now and then meets a stray int3 ("Oops: int3" in
    # sched_clock_cpu, seen on 6.12), which is qemu's fault, not the kernel's or bpfq's.
    for attempt in 1 2; do
        boot_once "$label"
        grep -q '^BPFQ-RESULT\|^BPFQ-RUN-START' "$work/$label.log" && return
        [ "$attempt" = 1 ] && log "$label crashed before its first check; booting it once more"
    done
}

boot_once() {
    local label=$1 append="console=ttyS0 panic=-1" t0
    [ "$label" = 6.12-lockdown ] && append+=" lockdown=integrity"
    [ "$label" = 6.12-confidentiality ] && append+=" lockdown=confidentiality"
    # The kernel hands an unknown name=value of its command line to /init as an environment variable.
    [ -z "$run_dir" ] || append+=" bpfq_run=/guest-run/run.sh"
    t0=$(date +%s)
    # shellcheck disable=SC2086 # QEMU_EXTRA is a list of arguments
    timeout -k 10 "$boot_timeout" qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 1G ${QEMU_EXTRA:-} \
        -nographic -no-reboot -nic none -pidfile "$work/$label.qemu.pid" \
        -kernel "${vmlinuz[$label]}" -initrd "$work/initrd.gz" -append "$append" \
        </dev/null >"$work/$label.log" 2>&1 &
    # timeout passes a TERM on to qemu: cleanup kills it too, in case qemu has not yet
    # written its pidfile.
    echo $! >"$work/$label.timeout.pid"
    local rc=0
    wait $! || rc=$?
    echo "$rc" >"$work/$label.rc"
    echo $(( $(date +%s) - t0 )) >"$work/$label.secs"
    rm -f "$work/$label.qemu.pid" "$work/$label.timeout.pid"
}

# The same checks on this machine's kernel: private mount and network namespaces, busybox's
# applets first in PATH so the tools are the guest's.
run_host() {
    local t0 bin=$work/host-bin
    mkdir -p "$bin" "$work/host-scratch"
    for applet in $(busybox --list); do ln -s "$root/bin/busybox" "$bin/$applet"; done
    t0=$(date +%s)
    local rc=0
    timeout -k 10 "$boot_timeout" unshare -m -n --propagation private \
        env PATH="$bin:$PATH" BPFQ="$bpfq" EXAMPLES="$repo/examples" SCRATCH="$work/host-scratch" \
        MAPS_HELPER="$root/bin/bpfq-test-maps" \
        "$root/bin/busybox" sh tests/kernels/guest.sh >"$work/host.log" 2>&1 || rc=$?
    echo "$rc" >"$work/host.rc"
    echo $(( $(date +%s) - t0 )) >"$work/host.secs"
}

for k in "${kernels[@]}"; do
    if [ "$k" = host ]; then
        log "running the checks on this machine's kernel ($(uname -r))"
        run_host
        continue
    fi
    # At most $jobs guests at once.
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    log "booting $k ($(basename "$(dirname "${vmlinuz[$k]}")"))"
    boot "$k" &
    waiters+=("$!")
done
wait

# --- --run: each guest's output instead of a matrix ---------------------------------------------

if [ -n "$run_dir" ]; then
    status=0
    for k in "${kernels[@]}"; do
        tr -d '\r' <"$work/$k.log" | sed -n '/^BPFQ-RUN-START/,/^BPFQ-RUN-END/p' >"$work/$k.run"
        cat "$work/$k.run"
        if ! grep -q '^BPFQ-RUN-END 0$' "$work/$k.run"; then
            log "$k: run.sh did not finish with status 0 (rc $(cat "$work/$k.rc")); its console's end:"
            tail -n 20 "$work/$k.log" >&2
            status=1
        fi
    done
    exit "$status"
fi

# --- matrix -------------------------------------------------------------------------------------

args=()
for k in "${kernels[@]}"; do
    args+=("$k=$work/$k.log:$(cat "$work/$k.secs"):$(cat "$work/$k.rc")")
done
status=0
python3 tests/kernels/matrix.py --out tests/kernels/MATRIX.md --timeout "$boot_timeout" \
    --build-secs "$build_secs" --total-secs $(( $(date +%s) - run_start )) "${args[@]}" || status=$?
# Keep the console logs of the last run next to the cache, for a failure's details.
mkdir -p "$cache/last-logs"
cp "$work"/*.log "$cache/last-logs/"
log "console logs: $cache/last-logs/; matrix: tests/kernels/MATRIX.md"
log "whole run: $(( $(date +%s) - run_start )) s"
if $report_only; then exit 0; fi
exit "$status"
