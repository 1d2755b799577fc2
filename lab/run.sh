#!/usr/bin/env bash
# make lab: every lab design (freelist in each of its three fit policies), brisk and glibc on
# the lab's workloads (lab/bench/work.c) and two real programs (lab/bench/job.py under python3,
# lab/bench/job.sql under sqlite3). The allocators take turns within each run; every run's wall
# time and peak RSS go to $BUILD/lab/raw.tsv, and lab/report.py turns them into lab/results.md
# (medians, fragmentation) and the charts in lab/charts/ (SVG, and PNG where rsvg-convert is).
#
# The lab designs run under an address-space limit (LAB_CAP_MIB, default 4096): bump never
# frees, and a design that runs out fails with "out of memory" in the table instead of taking
# the machine's memory. Every run's output must equal glibc's, or the run counts as failed.
#
# Environment: RUNS (default 3), BUILD (default build), LAB_CAP_MIB, LAB_OUT (default lab/).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
lab=$BUILD/lab
out=${LAB_OUT:-$root/lab}
runs=${RUNS:-3}
cap_kb=$((${LAB_CAP_MIB:-4096} * 1024))
unset LD_PRELOAD
export LC_ALL=C

for f in "$BUILD/libbrisk.so" "$lab/work" "$lab/bump.so" "$lab/freelist.so" "$lab/coalesce.so" \
         "$lab/binned.so"; do
    [ -f "$f" ] || { echo "lab: $f is missing: run 'make lab' (it builds everything)" >&2; exit 1; }
done

# --- Tools, from Debian when missing (librsvg2-bin only for the PNG copies of the charts). ---
need=()
[ -x /usr/bin/python3 ] || need+=(python3)
[ -x /usr/bin/sqlite3 ] || need+=(sqlite3)
[ -x /usr/bin/time ] || need+=(time)
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
    echo "lab: installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
        >/dev/null 2>&1 || echo "lab: apt-get failed; going on with what is there"
fi
for t in /usr/bin/python3 /usr/bin/sqlite3 /usr/bin/time; do
    [ -x "$t" ] || { echo "lab: $t is missing" >&2; exit 1; }
done

# --- Allocators: name|library to preload|environment. ---
allocs=(
    "glibc||"
    "brisk|$BUILD/libbrisk.so|"
    "bump|$lab/bump.so|"
    "freelist-first|$lab/freelist.so|LAB_FIT=first"
    "freelist-next|$lab/freelist.so|LAB_FIT=next"
    "freelist-best|$lab/freelist.so|LAB_FIT=best"
    "coalesce|$lab/coalesce.so|"
    "binned|$lab/binned.so|"
)

# --- Workloads: name|stdin|command. "baseline" (a near-empty run) is the RSS every process
# starts with under that allocator; report.py subtracts it when it computes fragmentation. ---
py="env PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 -I -B $root/lab/bench/job.py"
workloads=(
    "baseline|/dev/null|$lab/work pairs 1 16"
    "pairs|/dev/null|$lab/work pairs 2000000 64"
    "hold|/dev/null|$lab/work hold 1000000 16"
    "mixed|/dev/null|$lab/work mixed 300000 5000 1024"
    "frag|/dev/null|$lab/work frag 6 1"
    "grow|/dev/null|$lab/work grow 100000 128"
    "threads|/dev/null|$lab/work threads 2 500000"
    "python|/dev/null|$py"
    "sqlite|$root/lab/bench/job.sql|/usr/bin/sqlite3 -batch -init /dev/null :memory:"
)
field() { local IFS='|'; local -a f; read -r -a f <<<"$1"; echo "${f[$2]:-}"; }

work=$(mktemp -d /tmp/brisk-lab.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$lab"
raw=$lab/raw.tsv
printf 'workload\tallocator\trun\tstatus\tseconds\tmaxrss_kb\tlive_peak\n' >"$raw"

# run_one WORKLOAD-SPEC ALLOC-SPEC RUN: one timed run, one line of raw.tsv.
run_one() {
    local wname stdin cmd aname lib envs base rc=0 status secs kb live
    wname=$(field "$1" 0); stdin=$(field "$1" 1); cmd=$(field "$1" 2)
    aname=$(field "$2" 0); lib=$(field "$2" 1); envs=$(field "$2" 2)
    base=$work/$wname.$aname.$3
    # wall time from bash's microsecond clock (GNU time's is in hundredths); peak RSS from time
    local t0=$EPOCHREALTIME t1
    # shellcheck disable=SC2086
    (
        case $lib in "$lab"/*) ulimit -v "$cap_kb" ;; esac
        exec /usr/bin/time -f '%M' -o "$base.time" env ${lib:+LD_PRELOAD=$lib} $envs \
            timeout 300 $cmd <"$stdin" >"$base.out" 2>"$base.err"
    ) || rc=$?
    t1=$EPOCHREALTIME
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    kb=$(tail -n 1 "$base.time" 2>/dev/null | awk '{ print $NF }')
    live=$(awk '$1 == "live_peak" { print $2 }' "$base.out")
    local ref=$work/$wname.ref
    if [ $rc = 0 ] && [ ! -f "$ref" ] && [ "$aname" = glibc ]; then cp "$base.out" "$ref"; fi
    if [ $rc = 124 ]; then
        status=timeout
    elif [ $rc != 0 ] && grep -qiE 'returned NULL|MemoryError|out of memory|cannot allocate' "$base.err"; then
        status=oom
    elif [ $rc != 0 ]; then
        status="exit$rc"
    elif [ -f "$ref" ] && ! cmp -s "$base.out" "$ref"; then
        status=wrong-output
    else
        status=ok
    fi
    [ $status = ok ] || echo "  $wname under $aname, run $3: $status: $(tail -n 2 "$base.err" | tr '\n' ' ')" >>"$work/failures"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wname" "$aname" "$3" "$status" "$secs" "$kb" "${live:--}" >>"$raw"
    printf '%s' "$([ $status = ok ] && echo . || echo x)"
}

# Warm the page cache (interpreter, libraries) so that the first timed run does not pay for it.
/usr/bin/python3 -I -B -c 'import json, re, collections, hashlib, random' >/dev/null
start=$SECONDS
echo "lab: ${#workloads[@]} workloads x ${#allocs[@]} allocators x $runs runs (designs capped at $((cap_kb / 1024)) MiB of address space)"
for ((r = 1; r <= runs; r++)); do
    for w in "${workloads[@]}"; do
        printf '  run %d %-9s ' "$r" "$(field "$w" 0)"
        for a in "${allocs[@]}"; do run_one "$w" "$a" "$r"; done
        echo
    done
done
echo "lab: measured in $((SECONDS - start)) s"

names=()
for a in "${allocs[@]}"; do names+=("$(field "$a" 0)"); done
/usr/bin/python3 "$root/lab/report.py" --raw "$raw" --out "$out" --runs "$runs" \
    --cap-mib $((cap_kb / 1024)) --allocators "${names[*]}"
if command -v rsvg-convert >/dev/null; then
    for svg in "$out"/charts/*.svg; do rsvg-convert -o "${svg%.svg}.png" "$svg"; done
    echo "lab: PNG copies of the charts written with rsvg-convert"
else
    echo "lab: rsvg-convert (Debian: librsvg2-bin) not found: SVG charts only"
fi
if [ -s "$work/failures" ]; then
    echo "lab: runs that did not succeed (shown as such in the table):"
    cat "$work/failures"
fi
echo "lab: results in ${out#"$root"/}/results.md, charts in ${out#"$root"/}/charts/"
