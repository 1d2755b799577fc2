#!/usr/bin/env bash
# make bench-micro: instructions per malloc/free pair, counted by callgrind (valgrind), for each
# allocator: (a) one size (64 B) freed and reallocated at once, (b) random sizes 8..1024 B with
# 1000 blocks live. Instruction counts do not change with the load of the machine, so this view
# of the fast path is stable where wall times are not. Only the measured loop is counted
# (bench/micro.c, --toggle-collect), and it is counted whole: the loop's own instructions (the
# random generator and the slot in (b)) are included, nothing is subtracted.
# Prints a table and writes it to bench/results/micro.md; bench/run.sh includes it in latest.md.
#
# Environment: PAIRS (default 200000), ALLOCS, OTHERS (as for bench/run.sh), CC.
set -euo pipefail

# shellcheck source=bench/allocs.sh
source "$(dirname "$0")/allocs.sh"
pairs=${PAIRS:-200000}
bin=$root/build/bench
out=$root/bench/results/micro.md
mkdir -p "$bin" "$(dirname "$out")"

command -v valgrind >/dev/null || apt_install valgrind ||
    { echo "bench-micro: valgrind is missing" >&2; exit 1; }
choose_allocs
"${CC:-cc}" -O2 -g -Wall -Wextra -fno-builtin -o "$bin/micro" bench/micro.c
work=$(mktemp -d /tmp/brisk-micro.XXXXXX)
trap 'rm -rf "$work"' EXIT

# per_pair ALLOC MODE: instructions per pair, or FAIL.
per_pair() {
    local f=$work/$1.$2
    if ! env ${lib[$1]:+LD_PRELOAD=${lib[$1]}} ${opts[$1]:+BRISK_OPTIONS=${opts[$1]}} valgrind --tool=callgrind \
            --toggle-collect="measured_$2" --callgrind-out-file="$f.cg" \
            "$bin/micro" "$2" "$pairs" >"$f.out" 2>"$f.err"; then
        echo "bench-micro: $1 $2 failed: $(tail -n 3 "$f.err")" >&2
        echo FAIL
        return
    fi
    awk -v n="$pairs" '/^totals:/ { printf "%.1f", $2 / n; found = 1 } END { if (!found) print "FAIL" }' "$f.cg"
}

echo "bench-micro: callgrind, $pairs pairs per loop, ${allocs[*]}"
{
    echo "## Instructions per malloc/free pair (callgrind)"
    echo
    echo "$pairs pairs per loop, loop included (bench/micro.c; about 10-20 of the instructions are"
    echo "the loop's own: counter, random numbers, slot). Fewer is better; stable under load."
    echo
    echo "| allocator | one size (64 B), freed at once | random 8..1024 B, 1000 live |"
    echo "|---|---:|---:|"
    for a in "${allocs[@]}"; do
        echo "| $a | $(per_pair "$a" same) | $(per_pair "$a" random) |"
    done
} >"$work/micro.md"
cat "$work/micro.md"
cp "$work/micro.md" "$out"
! grep -q FAIL "$work/micro.md"
