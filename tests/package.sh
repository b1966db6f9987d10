#!/usr/bin/env bash
# The Debian package: builds it (packaging/deb/build.sh), checks what it holds against the repo
# (binary, a manual page per subcommand, completions, examples, the serve.d query files as
# conffiles, the systemd unit), verifies the unit with systemd-analyze, installs it on this
# machine, runs queries through /usr/bin/bpfq (also with only the unit's capabilities), reads
# its manual pages and completions, then purges it and checks nothing is left. Needs root and a
# machine without a bpfq package of its own. Costs a release build (fat LTO: 14 minutes on two
# busy cores, 2 minutes of CPU time) and, once per machine, installing cargo-deb (as long), then
# 30 seconds; so tests/run.sh runs it in CI only.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "tests/package.sh: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root (it installs and purges the package)"
if dpkg-query -W -f '${Status}' bpfq 2>/dev/null | grep -q installed; then
    fail "a bpfq package is installed already; this test installs and purges its own"
fi
command -v systemd-analyze >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
}

deb=$(packaging/deb/build.sh | tail -1)
[ -f "$deb" ] || fail "packaging/deb/build.sh made no .deb"

# What the package must hold, from the repo (not from the packager).
expected=$(mktemp)
listed=$(mktemp)
sleeper=
cleanup() {
    [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true
    rm -f "$expected" "$listed"
    dpkg --purge bpfq >/dev/null 2>&1 || true
}
trap cleanup EXIT
{
    echo ./usr/bin/bpfq
    echo ./usr/share/man/man1/bpfq.1.gz
    # Every visible subcommand, as `bpfq man` names them when asked for one it lacks.
    subcommands=$({ "${CARGO_TARGET_DIR:-target}/release/bpfq" man no-such-page 2>&1 || true; } |
        sed -n 's/.*the subcommands are: //p' | tr -d ,)
    [ -n "$subcommands" ] || fail "bpfq man names no subcommands"
    for name in $subcommands; do
        echo "./usr/share/man/man1/bpfq-$name.1.gz"
    done
    echo ./usr/share/bash-completion/completions/bpfq
    echo ./usr/share/zsh/vendor-completions/_bpfq
    echo ./usr/share/fish/vendor_completions.d/bpfq.fish
    for file in examples/*.bpfq examples/lib/*.bpfq; do
        echo "./usr/share/bpfq/$file"
    done
    for file in examples/serve/*; do
        echo "./etc/bpfq/serve.d/${file#examples/serve/}"
    done
    echo ./usr/share/doc/bpfq/README.md
    echo ./usr/share/doc/bpfq/copyright
    echo ./usr/lib/systemd/system/bpfq-serve.service
} | sort >"$expected"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sort >"$listed"
diff -u "$expected" "$listed" || fail "the package holds other files than expected (- expected, + packaged)"

conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
for file in examples/serve/*; do
    grep -qx "/etc/bpfq/serve.d/${file#examples/serve/}" <<<"$conffiles" ||
        fail "$file is not a conffile: $conffiles"
done

dpkg -i "$deb" >/dev/null

unit=/usr/lib/systemd/system/bpfq-serve.service
verdict=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $verdict"
[ -z "$verdict" ] || fail "systemd-analyze verify has remarks: $verdict"
! systemctl is-enabled bpfq-serve >/dev/null 2>&1 || fail "installing enabled bpfq-serve"

# A query through the installed binary, about a process this test starts.
sleep 300 &
sleeper=$!
rows=$(/usr/bin/bpfq -o csv "from task select pid, comm where pid == $sleeper")
[ "$rows" = "pid,comm
$sleeper,sleep" ] || fail "/usr/bin/bpfq printed: $rows"
# ... and with only the capabilities the unit keeps, without new privileges, as the unit runs.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z ' 'a-z\n' | sed 's/^cap_/+/' | paste -sd,)
rows=$(setpriv --no-new-privs --bounding-set "-all,$caps" --inh-caps -all \
    /usr/bin/bpfq -o csv "from task select pid where pid == $sleeper")
[ "$rows" = "pid
$sleeper" ] || fail "with the unit's capabilities ($caps), bpfq printed: $rows"
kill "$sleeper"
sleeper=

# The installed examples compile where they are (those on a map of their own aside), and one
# whose `use` finds lib/ beside it runs.
mapless=$(grep -L -F "\$map" /usr/share/bpfq/examples/*.bpfq)
# shellcheck disable=SC2086 # one argument per file
/usr/bin/bpfq check --param pid=$$ $mapless >/dev/null || fail "bpfq check of the installed examples"
/usr/bin/bpfq run /usr/share/bpfq/examples/children_of.bpfq --param pid=$$ -o csv >/dev/null ||
    fail "bpfq run of an installed example"

# Manual pages as man finds them, and completions as bpfq prints them.
man -w bpfq-explain >/dev/null || fail "man finds no bpfq-explain page"
MANWIDTH=200 MANPAGER=cat man bpfq 2>/dev/null | grep -q -- '--changes' || fail "man bpfq lacks --changes"
cmp -s /usr/share/bash-completion/completions/bpfq <(/usr/bin/bpfq completions bash) || fail "bash completion differs"
cmp -s /usr/share/zsh/vendor-completions/_bpfq <(/usr/bin/bpfq completions zsh) || fail "zsh completion differs"
cmp -s /usr/share/fish/vendor_completions.d/bpfq.fish <(/usr/bin/bpfq completions fish) || fail "fish completion differs"

dpkg --purge bpfq >/dev/null
for path in /usr/bin/bpfq /usr/share/bpfq /etc/bpfq "$unit" /usr/share/man/man1/bpfq.1.gz; do
    [ ! -e "$path" ] || fail "$path is left after purging"
done
echo "tests/package.sh: ok ($(basename "$deb"))"
