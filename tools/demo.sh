#!/usr/bin/env bash
# make demo: run real programs once under glibc's malloc and once under brisk
# (build/brisk run --stats), check that their outputs are identical, and show wall time,
# peak RSS and brisk's own report for each. Exits non-zero if anything fails or differs.
# Single runs: the times show the order of things; `make bench` measures properly.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
brisk=$root/build/brisk
if [ ! -x "$brisk" ] || [ ! -f "$root/build/libbrisk.so" ]; then
    echo "demo: build/brisk or build/libbrisk.so is missing: run 'make demo' (it builds them)" >&2
    exit 1
fi
unset LD_PRELOAD   # the glibc runs must really use glibc's malloc

# --- What the workloads need, installed from Debian when missing. ---
need=()
[ -x /usr/bin/python3 ] || need+=(python3)
[ -x /usr/bin/sqlite3 ] || need+=(sqlite3)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    echo "demo: installing ${need[*]} with apt-get"
    if [ "$(id -u)" != 0 ]; then
        echo "demo: not root; install them yourself: apt-get install ${need[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp /tmp/brisk-demo-apt.XXXXXX)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
            >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "demo: apt-get failed (log: $log)" >&2
        exit 1
    fi
    rm -f "$log"
fi

work=$(mktemp -d /tmp/brisk-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=()
summary=()

# run_one NAME ALLOC INPUT CMD...: runs CMD with stdin from INPUT under ALLOC (glibc or brisk),
# leaving stdout, stderr and "seconds maxrss_kb" in $work/NAME.ALLOC.{out,err,time}.
run_one() {
    local name=$1 alloc=$2 input=$3 rc=0
    shift 3
    local via=()
    [ "$alloc" = brisk ] && via=("$brisk" run --stats --)
    local base=$work/$name.$alloc
    /usr/bin/time -f '%e %M' -o "$base.time" timeout 300 "${via[@]}" "$@" \
        <"$input" >"$base.out" 2>"$base.err" || rc=$?
    if [ $rc != 0 ]; then
        failures+=("$name under $alloc: exit status $rc$([ $rc = 124 ] && echo ' (timed out)')")
        echo "  $alloc run FAILED (exit status $rc); last lines of its stderr:"
        tail -n 15 "$base.err" | sed 's/^/    | /'
        return 1
    fi
}

# field FILE N: the Nth number of a .time file.
field() { awk -v n="$2" '{ print $n }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# workload NAME TITLE INPUT CMD...: both runs, the comparison and the report.
workload() {
    local name=$1 title=$2 input=$3
    shift 3
    echo
    echo "== $name: $title =="
    echo "   glibc: \$ $*"
    echo "   brisk: \$ build/brisk run --stats -- $*"
    local ok=1
    run_one "$name" glibc "$input" "$@" || ok=0
    run_one "$name" brisk "$input" "$@" || ok=0
    [ $ok = 1 ] || { summary+=("$(printf '%-9s %s' "$name" 'FAILED')"); return 0; }

    local g=$work/$name.glibc b=$work/$name.brisk verdict
    local gt bt gr br
    gt=$(field "$g.time" 1); gr=$(field "$g.time" 2)
    bt=$(field "$b.time" 1); br=$(field "$b.time" 2)
    printf '   %-6s %8s %14s\n' "" "wall s" "peak RSS MiB"
    printf '   %-6s %8s %14s\n' glibc "$gt" "$(mib "$gr")"
    printf '   %-6s %8s %14s   (time x%s, RSS x%s of glibc)\n' brisk "$bt" "$(mib "$br")" \
        "$(ratio "$gt" "$bt")" "$(ratio "$gr" "$br")"

    if cmp -s "$g.out" "$b.out"; then
        verdict=identical
        echo "   output: identical under both ($(wc -l <"$g.out") lines, sha256 $(sha256sum "$g.out" | cut -c1-16))"
    else
        verdict=DIFFERENT
        failures+=("$name: output under brisk differs from glibc's")
        echo "   output: DIFFERENT; diff glibc brisk:"
        diff "$g.out" "$b.out" | head -n 20 | sed 's/^/    | /' || true
    fi
    if [ -s "$g.err" ]; then
        echo "   note: the glibc run wrote on stderr:"; sed 's/^/    | /' "$g.err" | head -n 10
    fi
    # Everything brisk's run wrote before its report is the program's own stderr.
    local pre
    pre=$(sed '/^brisk: stats/,$d' "$b.err")
    if [ -n "$pre" ]; then
        echo "   note: the brisk run wrote on stderr:"; printf '%s\n' "$pre" | head -n 10 | sed 's/^/    | /'
    fi
    if grep -q '^brisk: stats' "$b.err"; then
        echo "   brisk's report (BRISK_OPTIONS=stats=1):"
        sed -n '/^brisk: stats/,$p' "$b.err" | sed 's/^/    | /'
    else
        verdict="$verdict, no stats"
        failures+=("$name: brisk printed no 'brisk: stats' report at exit")
        echo "   brisk's report: MISSING (no line starting 'brisk: stats' on stderr)"
    fi
    summary+=("$(printf '%-9s %8s %8s %6s %10s %10s %6s  %s' "$name" "$gt" "$bt" \
        "$(ratio "$gt" "$bt")" "$(mib "$gr")" "$(mib "$br")" "$(ratio "$gr" "$br")" "$verdict")")
}

echo "brisk demo: $("$brisk" --version), library $root/build/libbrisk.so"
echo "each workload runs once under glibc's malloc and once under brisk; $(nproc) CPUs"
# Warm the page cache (interpreter, modules) so that the first timed run does not pay for it.
/usr/bin/python3 -s -B tools/demo/workload.py 1000 >/dev/null
/usr/bin/sqlite3 -batch -init /dev/null :memory: 'SELECT 1;' >/dev/null

workload python3 "200k records, JSON round trip, sorting, grouping, 4+4 threads (PYTHONMALLOC=malloc)" \
    /dev/null env PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 -s -B tools/demo/workload.py
workload sqlite3 "in-memory database, 100k orders + 20k customers, indexes, joins, windows, churn, vacuum" \
    tools/demo/workload.sql /usr/bin/sqlite3 -batch -init /dev/null :memory:

echo
echo "== summary =="
printf '%-9s %8s %8s %6s %10s %10s %6s  %s\n' workload "glibc s" "brisk s" ratio \
    "glibc MiB" "brisk MiB" ratio output
printf '%s\n' "${summary[@]}"
echo "(ratio = brisk / glibc; below 1 means brisk was faster or used less memory)"
echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "demo: FAILED"
    printf '  - %s\n' "${failures[@]}"
    exit 1
fi
echo "demo: OK: every workload gave the same output under brisk as under glibc, and brisk reported its stats"
