#!/usr/bin/env bash
# make bench: brisk against glibc, jemalloc, tcmalloc and mimalloc on every workload of bench/.
# Builds bench/*.c into build/bench/, runs each workload under each allocator (LD_PRELOAD; glibc
# is the run with nothing preloaded), the allocators taking turns (A B C D E, A B C D E, ...),
# records wall time and peak RSS of every run (timeit.c), checks every run's exit status and
# output, then writes bench/results/latest.md (bench/report.py), the chart latest.svg (and .png,
# bench/chart.py) and runs the micro view (bench/micro.sh). Exits 1 if a run under brisk or
# glibc failed (a brisk bug, or a broken workload); a peer that fails a workload's check is
# reported (FAIL in the tables, the reason under "Failed runs") but does not fail the run.
#
# Environment:
#   QUICK=1       3 runs and a tenth of the work per run: a look during development
#   RUNS=N        runs per workload and allocator (default 9; QUICK: 3)
#   ALLOCS="..."  which allocators, in this order (glibc brisk jemalloc tcmalloc mimalloc)
#   OTHERS=0      glibc and brisk only, and no apt-get
#   THREADS="1 2 4 8 16"  also run the multi-threaded workloads at each of these thread counts
#                 (extra rows such as larson-t4); by default they run at nproc (churn: 4 x nproc)
#   WORKLOADS="larson redis"  only these workloads (by name; for development)
#   MICRO=0       skip the micro view;  CC  the compiler
set -euo pipefail

# shellcheck source=bench/allocs.sh
source "$(dirname "$0")/allocs.sh"
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then runs=${RUNS:-3}; div=10; else runs=${RUNS:-9}; div=1; fi
ncpu=$(nproc)
bin=$root/build/bench
results=$root/bench/results
mkdir -p "$bin" "$results"
started=$SECONDS

choose_allocs
# What the real programs and the chart need, from Debian.
need=()
[ -x /usr/bin/python3 ] || need+=(python3)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
if [ ${#need[@]} -gt 0 ] && [ "${OTHERS:-1}" != 0 ]; then apt_install "${need[@]}" || true; fi
[ -x /usr/bin/python3 ] || { echo "bench: /usr/bin/python3 is needed for the report" >&2; exit 1; }

# --- Build. -fno-builtin: the compiler must not delete or merge the malloc/free pairs. ---
cc=${CC:-cc}
for src in bench/*.c; do
    name=$(basename "$src" .c)
    case $name in
        glibc_shim) "$cc" -O2 -Wall -Wextra -fPIC -shared -o "$bin/libglibc_shim.so" "$src" -ldl ;;
        *) "$cc" -O2 -g -Wall -Wextra -fno-builtin -pthread -o "$bin/$name" "$src" ;;
    esac
done

# --- Workloads. add NAME KIND STDIN "WHAT IT DOES" COMMAND...
# KIND prog: the command runs under LD_PRELOAD=the allocator; timeit measures it.
# KIND server: the command (a script) preloads $BENCH_PRELOAD into the server itself and prints
#   wall_seconds and peak_rss_kb, which replace timeit's figures.
names=() kinds=() stdins=() whats=() cmds=()
add() {
    names+=("$1") kinds+=("$2") stdins+=("$3") whats+=("$4")
    shift 4
    cmds+=("$*")
}
# scaled N: N for the full run, N / div for QUICK.
scaled() { echo $(($1 / div > 0 ? $1 / div : 1)); }
# per N T: a total of N (scaled) shared among T threads.
per() { local n; n=$(scaled "$1"); echo $((n / $2 > 0 ? n / $2 : 1)); }

add_threaded() { # T SUFFIX
    local t=$1 s=$2 ct=$(($1 * 4)) tp=$(($1 < 2 ? 2 : $1))
    [ -n "$s" ] && ct=$1
    add "larson$s" prog - "server simulation (larson), $t thread(s): each replaces random blocks of 8 B-1 KiB in its own slots and hands 1/4 of them to the next thread, which frees them" \
        larson "$t" "$(per 4800000 "$t")"
    add "xmalloc$s" prog - "producer/consumer (xmalloc), $tp threads: $((tp / 2)) allocate 8-512 B, $((tp - tp / 2)) check and free" \
        xmalloc "$t" "$(scaled 6000000)"
    add "cache-scratch$s" prog - "false sharing, $t thread(s): each frees an 8-byte object the main thread allocated next to the others', then allocates 8-byte objects and writes them hard" \
        cache scratch "$t" "$(per 300000 "$t")"
    add "cache-thrash$s" prog - "false sharing, $t thread(s): each allocates 8-byte objects and writes them hard" \
        cache thrash "$t" "$(per 300000 "$t")"
    add "churn$s" prog - "many-thread churn (mstress/rptest): 10 rounds of $ct threads (on $ncpu CPUs) working on 16 B-64 KiB blocks, 1/8 of them swapped through a set shared by all" \
        churn "$ct" 10 "$(per 480000 "$ct")"
}

add fixed-64 prog - "1 thread: malloc(64), write, check, free; repeated" loop fixed "$(scaled 24000000)" 64
add random-small prog - "1 thread: 1000 live blocks; replace a random one with 8 B-1 KiB" loop random "$(scaled 18000000)" 1000 8 1024
add random-medium prog - "1 thread: 1000 live blocks; replace a random one with 1-64 KiB" loop random "$(scaled 1500000)" 1000 1024 65536
add realloc prog - "1 thread: 16 realloc chains: strings growing by 1-64 B to 4 KiB, vectors doubling to 256 KiB" grow "$(scaled 900000)"
add calloc prog - "1 thread: 500 live calloc'ed blocks of 16 B-256 KiB, each checked zero, then dirtied" zero "$(scaled 120000)"
add large prog - "1 thread: 3 live blocks of 64 KiB-64 MiB, every page written; replace a random one" large "$(scaled 120)"
add aligned prog - "1 thread: 1000 live blocks from posix_memalign/aligned_alloc/memalign, 16 B-64 KiB alignment" aligned "$(scaled 1200000)"
add bigint prog - "cfrac-like: factoring with heap-allocated big integers, millions of 16-48 B objects" bigint "$(scaled 60)"
add frag prog - "fragmentation: a set grows to 64 MiB and shrinks, in phases of small, medium and large blocks" frag "$(scaled 5)"
add_threaded "$ncpu" ""
for t in ${THREADS:-}; do add_threaded "$t" "-t$t"; done
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    add redis server - "redis-server, 15 redis-benchmark tests (50 clients, pipelines of 16, 256-byte values); time of the benchmark, server's peak RSS; its glibc run preloads bench/glibc_shim.c (Debian's redis links jemalloc)" \
        bash bench/redis.sh "$(scaled 12000)"
else
    echo "bench: redis-server or redis-benchmark missing: no redis workload" >&2
fi
if command -v sqlite3 >/dev/null; then
    bash bench/gen-sql.sh "$(scaled 50000)" >"$bin/bench.sql"
    add sqlite prog "$bin/bench.sql" "sqlite3 :memory: on a generated script: $(scaled 50000) INSERTs, indexes, joins, windows, JSON, updates, VACUUM" \
        sqlite3 -batch -init /dev/null :memory:
else
    echo "bench: sqlite3 missing: no sqlite workload" >&2
fi
add python prog - "python3 (PYTHONMALLOC=malloc): tools/demo/workload.py on $(scaled 20000) records, JSON, sorting, threads" \
    env PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 -s -B tools/demo/workload.py "$(scaled 20000)"

selected=()
for i in "${!names[@]}"; do
    [ -z "${WORKLOADS:-}" ] || [[ " $WORKLOADS " == *" ${names[$i]} "* ]] || continue
    selected+=("$i")
done

work=$(mktemp -d /tmp/brisk-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
raw=$work/raw.txt
: >"$raw"
failures=()
fatal=0
# Warm the page cache for the real programs, so that the first timed run does not pay for it.
/usr/bin/python3 -s -B -c 'import json, threading, hashlib' || true
if command -v sqlite3 >/dev/null; then sqlite3 :memory: 'SELECT 1;' >/dev/null || true; fi

# run_one I ALLOC R: one run of workload I; appends "name alloc run seconds rss_kb live" to raw.
run_one() {
    local i=$1 a=$2 r=$3 name=${names[$1]} rc=0 pre=${lib[$2]}
    local base=$work/$name.$a.$r ref=$work/$name.ref why='' secs rss live
    local -a cmd
    read -r -a cmd <<<"${cmds[$i]}"
    [ -x "$bin/${cmd[0]}" ] && cmd[0]=$bin/${cmd[0]}
    # redis links jemalloc: its "glibc" run must preload the shim that restores glibc's malloc
    [ "${kinds[$i]}" = server ] && [ -z "$pre" ] && pre=$bin/libglibc_shim.so
    local -a envs=("BENCH_PRELOAD=$pre")
    [ -z "${opts[$a]:-}" ] || envs+=("BRISK_OPTIONS=${opts[$a]}")
    [ "${kinds[$i]}" = prog ] && [ -n "$pre" ] && envs+=("LD_PRELOAD=$pre")
    local in=/dev/null
    [ "${stdins[$i]}" = - ] || in=${stdins[$i]}
    "$bin/timeit" -t 300 -o "$base.time" -- env "${envs[@]}" "${cmd[@]}" \
        <"$in" >"$base.out" 2>"$base.err" || rc=$?
    # The output depends only on the arguments: it must match the first run's (figures aside).
    grep -v -E '^(wall_seconds|peak_rss_kb) ' "$base.out" >"$base.cmp" || true
    [ $rc != 0 ] || [ -f "$ref" ] || cp "$base.cmp" "$ref"
    if [ $rc != 0 ]; then
        why="exit status $rc$([ $rc = 124 ] && echo ' (timed out)'): $(tail -n 3 "$base.err")"
    elif ! cmp -s "$base.cmp" "$ref"; then
        why="printed '$(head -c 300 "$base.cmp")' where the first run printed '$(head -c 300 "$ref")'"
    fi
    if [ -n "$why" ]; then
        failures+=("$name under $a, run $r: $(printf '%s' "$why" | tr '\n' ' ')")
        case $a in glibc | brisk | brisk-secure) fatal=1 ;; esac
        echo "$name $a $r FAIL FAIL -" >>"$raw"
        printf 'x'
        return
    fi
    read -r secs rss <"$base.time"
    secs=$(awk '$1 == "wall_seconds" { print $2 }' "$base.out" | grep . || echo "$secs")
    rss=$(awk '$1 == "peak_rss_kb" { print $2 }' "$base.out" | grep . || echo "$rss")
    live=$(awk '$1 == "peak_live_bytes" { print $2 }' "$base.out" | grep . || echo -)
    echo "$name $a $r $secs $rss $live" >>"$raw"
    printf '.'
}

echo "bench: ${#selected[@]} workloads x ${allocs[*]} x $runs runs, $ncpu CPUs$([ "$quick" = 1 ] && echo ' (QUICK)')"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for i in "${selected[@]}"; do
    printf '  %-16s' "${names[$i]}"
    for ((r = 1; r <= runs; r++)); do
        for a in "${allocs[@]}"; do run_one "$i" "$a" "$r"; done
    done
    echo " $(head -n 1 "$work/${names[$i]}.ref" 2>/dev/null || echo 'every run failed')"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report. ---
commit=$(git rev-parse --short HEAD 2>/dev/null || echo none)
git diff --quiet HEAD -- src include 2>/dev/null || commit="$commit (with local changes in src/ or include/)"
[ -z "${BRISK_LIB:-}" ] || commit="$commit; brisk from BRISK_LIB"
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit=$commit"
    echo "cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
    echo "nproc=$ncpu"
    echo "kernel=$(uname -r)"
    echo "compiler=$("$cc" --version | head -n 1)"
    echo "allocators=${allocs[*]}"
    echo "versions=$(for a in "${allocs[@]}"; do printf '%s %s; ' "$a" "$(version_of "$a")"; done | sed 's/; $//')"
    echo "runs=$runs"
    echo "quick=$quick"
    echo "work_divisor=$div"
    echo "threads=${THREADS:-}"
    echo "load=$load_start at the start, $load_end at the end"
    echo "brisk_options=${BRISK_OPTIONS:-}"
    echo "brisk_lib=${BRISK_LIB:-}"
    echo "make=make bench$([ "$quick" = 1 ] && echo ' QUICK=1')${THREADS:+ THREADS=\"$THREADS\"}"
} >"$work/meta.txt"
for i in "${selected[@]}"; do
    printf '%s\t%s\t%s\n' "${names[$i]}" "${whats[$i]}" "${cmds[$i]}$([ "${stdins[$i]}" = - ] || echo " < ${stdins[$i]#"$root"/}")"
done >"$work/workloads.tsv"
cp "$raw" "$bin/raw.txt"
printf '%s\n' "${failures[@]}" >"$work/failures.txt"

micro_ok=1
rm -f "$results/micro.md"
if [ "${MICRO:-1}" != 0 ]; then
    echo
    bash bench/micro.sh || micro_ok=0
fi
/usr/bin/python3 bench/report.py "$bin/raw.txt" "$work/meta.txt" "$work/workloads.tsv" \
    "$results/micro.md" "$work/failures.txt" "$results/latest.md" "$bin/ratios.tsv"
/usr/bin/python3 bench/chart.py "$bin/ratios.tsv" "$work/meta.txt" "$results/latest.svg"
if command -v rsvg-convert >/dev/null; then
    rsvg-convert -b white -o "$results/latest.png" "$results/latest.svg" || echo "bench: rsvg-convert failed"
fi
echo
cat "$results/latest.md"
echo
echo "bench: written to bench/results/latest.md, latest.svg$([ -f "$results/latest.png" ] && echo ', latest.png'); every run's figures in build/bench/raw.txt"
echo "bench: took $((SECONDS - started)) s"
if [ ${#failures[@]} -gt 0 ]; then
    echo "bench: FAILED runs:"
    printf '  - %s\n' "${failures[@]}"
    [ $fatal = 0 ] || exit 1
    echo "bench: only peers failed (their figures are left out); brisk and glibc passed every check"
fi
[ $micro_ok = 1 ] || { echo "bench: the micro view failed"; exit 1; }
