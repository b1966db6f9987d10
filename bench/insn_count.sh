#!/usr/bin/env bash
# bench/insn_count.sh — code size of bpfq's programs against clang -O2 for the same iterators.
#
# For each query below, bench/insn/<id>.bpf.c is a C iterator that does the same work as
# bpfq's program: NULL-check ctx->task, zero a row laid out exactly as `bpfq explain` prints
# it, the same filter, the same stores, one bpf_seq_write of the row size. The script compiles
# each with `clang -O2 -g -target bpf` against a vmlinux.h generated now from the running
# kernel, and compares instruction counts of section iter/task.
#
# Counting: both sides count 8-byte SLOTS, so an ld_imm64 (a 64-bit constant) counts 2 on
# both sides. bpfq's "N instructions" in `bpfq explain` is already a slot count; for clang
# the slot count is the section size / 8. The columns "lines" count ld_imm64 as one
# instruction (listing lines) on both sides, for reference.
#
# Extra columns (reference, not in the goal): clang -mcpu=v3 (32-bit ALU and jumps), and
# clang without CO-RE (-DBPF_NO_PRESERVE_ACCESS_INDEX: plain offsets, as bpfq resolves
# offsets from BTF at compile time).
#
# Usage: bench/insn_count.sh [PATH_TO_BPFQ]
# Env:   BPFQ=path         bpfq binary (default: $CARGO_TARGET_DIR or <repo>/target, debug or release)
#        CLANG=clang       compiler for the C anchors
#        INSN_SHOW=1       also print both listings of every query, one after the other
#        INSN_GOAL=1.3     the geometric-mean ratio goal (bpfq slots / clang slots)
# Needs: clang, llvm-objdump, bpftool, /sys/kernel/btf/vmlinux. No root needed (nothing loads).
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/.." && pwd)
anchor_dir=$bench_dir/insn
clang=${CLANG:-clang}
objdump=${OBJDUMP:-llvm-objdump}
goal=${INSN_GOAL:-1.3}
show=${INSN_SHOW:-0}

die() { echo "insn_count: $*" >&2; exit 1; }

work_dir=''
cleanup() { if [[ -n $work_dir ]]; then rm -rf "$work_dir"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the queries: id -> bpfq query (bench/insn/<id>.bpf.c is its C anchor) ----------------
ids=(a b c d e f g)
declare -A queries=(
    [a]='from task select pid, comm'
    [b]='from task select pid, tgid, comm where pid == 42'
    [c]='from task select tid, comm where comm == "sshd"'
    [d]='from task select pid, ppid, uid, gid, comm'
    [e]='from task select pid, vsize where uid == 0 and tid == pid'
    [f]='from task select pid, task.prio - 120 as nice, task.mm.total_vm * 4096 as vsize where pid > 100 or tid < 10'
    [g]='from task select tid, task.mm.total_vm as vm where task.mm.total_vm > 0x1_0000_0000 and task.flags & 0x200000 == 0'
)

# ---- prerequisites -------------------------------------------------------------------------
missing=()
command -v "$clang" >/dev/null || missing+=("clang (apt-get install clang)")
command -v "$objdump" >/dev/null || missing+=("llvm-objdump (apt-get install llvm)")
command -v bpftool >/dev/null || missing+=("bpftool (apt-get install bpftool)")
command -v awk >/dev/null || missing+=("awk")
if ((${#missing[@]})); then
    printf 'insn_count: missing tools:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
fi
[[ -r /sys/kernel/btf/vmlinux ]] || die "/sys/kernel/btf/vmlinux missing: the kernel needs CONFIG_DEBUG_INFO_BTF"

bpfq=${1:-${BPFQ:-}}
if [[ -z $bpfq ]]; then
    target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
    for candidate in "$target_dir/release/bpfq" "$target_dir/debug/bpfq"; do
        if [[ -x $candidate ]]; then bpfq=$candidate; break; fi
    done
fi
[[ -n $bpfq && -x $bpfq ]] || die "bpfq binary not found (build it, or pass a path / set BPFQ)"

work_dir=$(mktemp -d /tmp/bpfq-insn.XXXXXX)
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$work_dir/vmlinux.h" \
    || die "bpftool could not dump vmlinux BTF"

# Slots of section iter/task in an object: its size / 8.
section_slots() {
    local size_hex
    size_hex=$("$objdump" -h "$1" | awk '$2 == "iter/task" { print $3 }')
    [[ -n $size_hex ]] || die "no iter/task section in $1"
    echo $(( 16#$size_hex / 8 ))
}

# Listing lines (ld_imm64 = one line) of section iter/task.
section_lines() {
    "$objdump" -d --no-show-raw-insn --section=iter/task "$1" | grep -cE '^ *[0-9]+:'
}

# Compiles anchor $1 with extra flags $3..., into object $2.
compile_anchor() {
    local id=$1 out=$2
    shift 2
    "$clang" -O2 -g -target bpf "$@" -I"$work_dir" -I"$anchor_dir" \
        -c "$anchor_dir/$id.bpf.c" -o "$out" 2> "$work_dir/clang.err" \
        || { cat "$work_dir/clang.err" >&2; die "clang failed on $id.bpf.c"; }
}

rows=()
for id in "${ids[@]}"; do
    query=${queries[$id]}
    explain_out=$work_dir/$id.explain
    if ! "$bpfq" explain "$query" > "$explain_out" 2> "$work_dir/$id.err"; then
        echo "insn_count: bpfq cannot compile query $id ($query):" >&2
        cat "$work_dir/$id.err" >&2
        rows+=("$id|$query|-|-|-|-|-|-")
        continue
    fi
    bpfq_slots=$(sed -nE 's/^name .* ([0-9]+) instructions$/\1/p' "$explain_out")
    bpfq_lines=$(sed -n '/^== BPF$/,/^== row layout$/p' "$explain_out" | grep -cE '^ *[0-9]+: ')
    bpfq_row=$(sed -nE 's/^([0-9]+) bytes per row$/\1/p' "$explain_out")
    anchor_row=$(sed -nE 's/^#define ROW_BYTES ([0-9]+)$/\1/p' "$anchor_dir/$id.bpf.c")
    if [[ $bpfq_row != "$anchor_row" ]]; then
        # The anchor must do the same work: a different row is not a fair comparison.
        echo "insn_count: query $id: bpfq's row is $bpfq_row bytes but $id.bpf.c lays out" \
            "$anchor_row; update the anchor to match \`bpfq explain\`'s row layout" >&2
        rows+=("$id|$query (row layout differs: skipped)|-|-|-|-|-|-")
        continue
    fi

    compile_anchor "$id" "$work_dir/$id.o"
    compile_anchor "$id" "$work_dir/$id.v3.o" -mcpu=v3
    compile_anchor "$id" "$work_dir/$id.noco.o" -DBPF_NO_PRESERVE_ACCESS_INDEX
    clang_slots=$(section_slots "$work_dir/$id.o")
    clang_lines=$(section_lines "$work_dir/$id.o")
    v3_slots=$(section_slots "$work_dir/$id.v3.o")
    noco_slots=$(section_slots "$work_dir/$id.noco.o")
    rows+=("$id|$query|$bpfq_slots|$clang_slots|$bpfq_lines|$clang_lines|$v3_slots|$noco_slots")

    if [[ $show == 1 ]]; then
        echo "==================== $id: $query"
        echo "---- bpfq ($bpfq_slots slots)"
        sed -n '/^== BPF$/,/^== row layout$/p' "$explain_out" | sed '1d;$d'
        echo "---- clang -O2 ($clang_slots slots)"
        "$objdump" -d --no-show-raw-insn --section=iter/task "$work_dir/$id.o" | grep -E '^ *[0-9]+:|^[0-9a-f]+ <'
        echo
    fi
done

# ---- the table -------------------------------------------------------------------------------
printf '%s\n' "${rows[@]}" | awk -F'|' -v goal="$goal" '
function ratio(a, b) { return (a == "-" || b == "-" || b == 0) ? "-" : sprintf("%.2f", a / b) }
BEGIN {
    printf "%-2s %-6s %-6s %-6s | %-6s %-6s | %-8s %-8s | %s\n", "id", "bpfq", "clang", "ratio", \
        "bpfq", "clang", "clang", "clang", "query"
    printf "%-2s %-6s %-6s %-6s | %-6s %-6s | %-8s %-8s |\n", "", "slots", "slots", "", \
        "lines", "lines", "-mcpu=v3", "no CO-RE"
}
{
    printf "%-2s %-6s %-6s %-6s | %-6s %-6s | %-8s %-8s | %s\n", $1, $3, $4, ratio($3, $4), \
        $5, $6, $7, $8, $2
    if ($3 != "-") {
        n++
        log_sum += log($3 / $4)
        best = $4; if ($7 < best) best = $7; if ($8 < best) best = $8
        log_best += log($3 / best)
    } else {
        failed++
    }
}
END {
    if (n == 0) { print "no query compiled"; exit 1 }
    mean = exp(log_sum / n)
    printf "\ngeometric mean bpfq/clang -O2 (slots, %d queries): %.3f  goal <= %s: %s\n", n, mean, goal, \
        (mean <= goal ? "PASS" : "MISS")
    printf "geometric mean bpfq/best clang variant (reference):   %.3f\n", exp(log_best / n)
    if (failed) printf "%d queries did not compile with bpfq (see above)\n", failed
}'
