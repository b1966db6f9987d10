#!/usr/bin/env bash
# Builds the Debian package of bpfq (target/debian/bpfq_VERSION_ARCH.deb) with cargo-deb, from
# [package.metadata.deb] in Cargo.toml: the release binary, then the manual pages it renders
# (`bpfq man`, one page per subcommand), which cargo-deb cannot make itself. Prints the path of
# the .deb on its last line. cargo-deb is installed when missing (`cargo install --locked
# cargo-deb`, once per machine: 13.5 minutes on two cores shared with other builds, 2 minutes
# of CPU time).
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v cargo-deb >/dev/null || cargo install --locked cargo-deb

cargo build --release --locked
target=${CARGO_TARGET_DIR:-target}
bpfq=$target/release/bpfq

# bpfq(1) and bpfq-SUBCOMMAND(1) for each subcommand `bpfq --help` lists (as git names pages).
man=$target/release/man
rm -rf "$man"
mkdir -p "$man"
"$bpfq" man >"$man/bpfq.1"
"$bpfq" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF && $1 != "help" { print $1 }' |
    while read -r subcommand; do
        "$bpfq" man "$subcommand" >"$man/bpfq-$subcommand.1"
    done
# Debian policy wants them gzipped; cargo-deb compresses only pages it did not see built.
gzip -9n "$man"/*.1

# cargo-deb prints the path of the package it wrote.
cargo deb --no-build --locked --output "$target/debian/" | tail -1
