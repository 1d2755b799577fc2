# shellcheck shell=bash
# Sourced by tests/run.sh: the benchmark workloads (bench/*.c) at tiny sizes under brisk.
# Each workload checks every block it frees, so a run that exits 0 and prints its "ok" line
# shows that brisk handed out and kept every block right on that workload's pattern; a broken
# workload, or a brisk bug one exposes, turns `make check` red. Speed is not looked at here.
# Also: the glibc shim of the redis run, timeit, and the report and chart scripts on figures
# whose ratios are known.

BT=$T/bench
mkdir -p "$BT"
for src in "$ROOT"/bench/*.c; do
    b=$(basename "$src" .c)
    case $b in
        glibc_shim) build bench_glibc_shim gcc -O2 -Wall -Wextra -fPIC -shared "$src" -o "$BT/libglibc_shim.so" -ldl ;;
        *) build "bench_$b" gcc -O2 -g -Wall -Wextra -fno-builtin -pthread "$src" -o "$BT/$b" ;;
    esac
done

# bench_smoke PRELOAD PROGRAM ARGS...: runs a workload under PRELOAD; it must exit 0 and say ok.
bench_smoke() {
    local pre=$1 out
    shift
    out=$(LD_PRELOAD=$pre "$@") || { echo "$* exited with status $?"; return 1; }
    echo "$out"
    [[ $out == ok* ]] || { echo "no 'ok' line from $*"; return 1; }
}
export -f bench_smoke
export BT ROOT
# smoke NAME BUILT PROGRAM ARGS...: the test NAME runs PROGRAM of $BT under brisk.
smoke() {
    local name=$1 built=$2 prog=$3
    shift 3
    run "$name" "$built" bash -c 'bench_smoke "$@"' bench_smoke "$LIB" "$BT/$prog" "$@"
}

smoke bench_loop_fixed bench_loop loop fixed 20000 64
smoke bench_loop_random bench_loop loop random 20000 100
smoke bench_loop_medium bench_loop loop random 5000 100 1024 65536
smoke bench_grow bench_grow grow 20000 65536
smoke bench_zero bench_zero zero 5000 100
smoke bench_large bench_large large 12 3
smoke bench_aligned bench_aligned aligned 20000 200
smoke bench_bigint bench_bigint bigint 3 20
smoke bench_larson bench_larson larson 4 20000
smoke bench_xmalloc bench_xmalloc xmalloc 4 20000
smoke bench_cache_scratch bench_cache cache scratch 4 2000
smoke bench_cache_thrash bench_cache cache thrash 4 2000
smoke bench_churn bench_churn churn 8 3 2000
smoke bench_micro_same bench_micro micro same 1000
smoke bench_micro_random bench_micro micro random 1000
# frag must also report its peak of live bytes, which the runner divides peak RSS by
t_bench_frag() {
    local out
    out=$(bench_smoke "$LIB" "$BT/frag" 1 4) || { echo "$out"; return 1; }
    echo "$out"
    grep -qE "^peak_live_bytes [0-9]{7,}$" <<<"$out" || { echo "no peak_live_bytes line"; return 1; }
}
export -f t_bench_frag
run bench_frag bench_frag bash -c t_bench_frag
# the shim gives glibc's malloc back under a program linked against another allocator
run bench_glibc_shim "bench_glibc_shim bench_aligned" bash -c 'bench_smoke "$@"' bench_smoke \
    "$BT/libglibc_shim.so" "$BT/aligned" 5000 200

# timeit writes "SECONDS MAXRSS_KB" and passes the command's exit status on.
t_bench_timeit() {
    local f=$BT/timeit.out rc=0
    "$BT/timeit" -o "$f" -- sh -c 'exit 3' || rc=$?
    [ $rc = 3 ] || { echo "timeit returned $rc for a command that exited 3"; return 1; }
    "$BT/timeit" -o "$f" -- "$BT/loop" fixed 10 2000000 >/dev/null || return 1
    cat "$f"
    awk '{ exit !(NF == 2 && $1 > 0 && $2 >= 1900) }' "$f" ||
        { echo "expected seconds and a peak RSS of at least 1900 KiB (a 2 MB block was written)"; return 1; }
}
export -f t_bench_timeit
run bench_timeit bench_timeit bash -c t_bench_timeit

# report.py and chart.py on made-up runs: brisk takes half glibc's time on one workload and
# twice on the other (geometric mean 1.00), and the same RSS on both (1.00); a failed peer run.
t_bench_report() {
    local d=$BT/report
    mkdir -p "$d"
    printf '%s\n' "a glibc 1 2.0 1000 -" "a brisk 1 1.0 1000 -" "a glibc 2 2.2 1000 -" \
        "a brisk 2 1.0 1000 -" "b glibc 1 1.0 2048 1048576" "b brisk 1 2.0 2048 1048576" \
        "b jemalloc 1 FAIL FAIL -" >"$d/raw.txt"
    printf '%s\n' "date=now" "commit=x" "cpu=cpu" "nproc=2" "kernel=k" "compiler=cc" \
        "allocators=glibc brisk jemalloc" "versions=v" "runs=2" "quick=0" "load=0" "make=make bench" \
        >"$d/meta.txt"
    printf 'a\tfirst\tloop a\nb\tsecond\tloop b\n' >"$d/wl.tsv"
    echo "b under jemalloc, run 1: exit status 1" >"$d/fail.txt"
    /usr/bin/python3 "$ROOT/bench/report.py" "$d/raw.txt" "$d/meta.txt" "$d/wl.tsv" "$d/none.md" \
        "$d/fail.txt" "$d/out.md" "$d/ratios.tsv" || return 1
    /usr/bin/python3 "$ROOT/bench/chart.py" "$d/ratios.tsv" "$d/meta.txt" "$d/out.svg" || return 1
    cat "$d/out.md"
    grep -qF '| a | 0.48 |' "$d/out.md" || { echo "brisk/glibc time on a should be 1.0/2.1 = 0.48"; return 1; }
    grep -qF '| b | 2.00 |' "$d/out.md" || { echo "brisk/glibc time on b should be 2.00"; return 1; }
    grep -qF '| **geometric mean** | **0.98** |' "$d/out.md" || { echo "geometric mean of 0.48 and 2 should be 0.98"; return 1; }
    grep -qF '| a | 2.100 ±5% | 1.000 ±0% | - |' "$d/out.md" ||
        { echo "a's times: glibc median 2.1, spread 0.1 / 2.1 = 5%, no jemalloc run"; return 1; }
    grep -qF '| b | 1.000 ±0% | 2.000 ±0% | FAIL |' "$d/out.md" || { echo "b's jemalloc run failed"; return 1; }
    grep -qF '| brisk | 1.0 | 2.0 | 2.00 |' "$d/out.md" || { echo "b's peak RSS / peak live should be 2.00"; return 1; }
    grep -qF 'b under jemalloc, run 1' "$d/out.md" || { echo "the failed run is not listed"; return 1; }
    grep -c '<rect' "$d/out.svg" | awk '{ exit !($1 >= 6) }' || { echo "the chart has too few bars"; return 1; }
}
export -f t_bench_report
run bench_report "" bash -c t_bench_report
