#!/usr/bin/env bash
# Runs every test of bpfq: compile-only golden tests against the BTF fixtures in the repo, and
# kernel tests that load real BPF programs (they need root, BTF and bpftool). Installs the few
# Debian packages the tests use when they are missing, and mounts what a fresh machine lacks
# (bpffs for pinned maps and iterators, securityfs for the lockdown mode).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v bpftool >/dev/null || need+=(bpftool)
command -v llvm-mc >/dev/null || need+=(llvm)          # independent oracle for the BPF encoder
command -v python3 >/dev/null || need+=(python3)       # spawns many-threaded processes
command -v prlimit >/dev/null || need+=(util-linux)    # runs a test under a low memlock limit
command -v ps >/dev/null || need+=(procps)            # the task columns are checked against ps
command -v ip >/dev/null || need+=(iproute2)           # network namespaces of the tests
command -v man >/dev/null || need+=(man-db)            # renders `bpfq man` (tests/cli/man.rs)
command -v fish >/dev/null || need+=(fish)             # shell completion tests
command -v zsh >/dev/null || need+=(zsh)
command -v prometheus >/dev/null || need+=(prometheus)  # scrapes `bpfq serve` (tests/kernel/serve.rs)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "tests/run.sh: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
    echo "tests/run.sh: kernel tests need root and /sys/kernel/btf/vmlinux; they would fail here." >&2
    echo "tests/run.sh: running the compile-only tests only: cargo test -p bpfq-compiler -p bpfq-kernel" >&2
    exec cargo test -p bpfq-compiler -p bpfq-kernel
fi

# A fresh machine has neither mounted; tests pin objects under /sys/fs/bpf.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security

# Every test binary runs, so one failure does not hide the others.
cargo test --workspace --locked --no-fail-fast

# Bounded fuzzing (about a minute per target, three targets) and the qemu kernel matrix only in
# CI: a local `tests/run.sh` stays a test run. Any crash fails CI and leaves its input under
# fuzz/artifacts/; a failed check of a kernel fails CI and is in tests/kernels/MATRIX.md.
if [ "${CI:-}" = true ]; then
    fuzz/run.sh
    # The Debian package: a release build (fat LTO), cargo-deb installed when missing, the .deb
    # installed, used and purged (tests/package.sh says the cost).
    tests/package.sh
    # The kernel matrix: bpfq inside Debian's 5.10, 6.1 and 6.12 kernels (6.12 also with
    # lockdown=integrity) under qemu, about 4 minutes with its downloads, and the same checks on
    # this machine's kernel (`host`: in private namespaces, no qemu), which refuses map-element
    # programs and so runs bpfq's fallbacks.
    tests/kernels.sh 5.10 6.1 6.12 6.12-lockdown host
fi
