#!/usr/bin/env bash
# brisk: run a program with the brisk allocator (LD_PRELOAD=libbrisk.so).
# Installed as build/brisk by `make` and as $PREFIX/bin/brisk by `make install`.
set -u

prog=${0##*/}
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)

usage() {
    cat <<EOF
usage: $prog run [--stats] [--] PROGRAM [ARGS...]
       $prog trace summary [--json] TRACE
       $prog trace replay TRACE [--lib NAME|PATH|NAME=PATH]... [--runs N] [--json]
                  [--timeline CSV [--timeline-every K]] [--heapmap-at N[,M...] [--heapmap-prefix P]]
       $prog heapmap DUMP [-o OUT.svg|OUT.png]
       $prog timeline CSV [-o OUT.svg|OUT.png] [--x time|record]
       $prog --help | --version

  run        run PROGRAM with brisk replacing malloc (LD_PRELOAD=libbrisk.so,
             placed before any LD_PRELOAD already set)
  --stats    print brisk's statistics on stderr when PROGRAM exits
             (adds stats=1 to BRISK_OPTIONS, keeping the other options)
  trace summary   what a trace (BRISK_OPTIONS=trace=FILE) holds: calls, threads, sizes,
                  lifetimes, peak live bytes, busiest rate
  trace replay    replay a trace under glibc, brisk and each --lib (jemalloc, tcmalloc,
                  mimalloc name Debian's libraries), N runs each (default 3), and compare
                  time and peak RSS; --timeline and --heapmap-at add a replay under brisk in
                  trace order that samples memory / dumps the heap after the given records
  heapmap    draw a heap dump (brisk_heap_dump, BRISK_OPTIONS=heapmap=FILE) as SVG or PNG
  timeline   draw a replay's --timeline CSV as SVG or PNG

Options are read from BRISK_OPTIONS, e.g. BRISK_OPTIONS=stats=1,purge_delay_ms=100.
The library used: $(find_lib 2>/dev/null || echo "(not found)") (BRISK_LIB=PATH picks another).
docs/insight.md describes the trace, replay and picture commands.
EOF
}

die() {
    echo "$prog: $*" >&2
    echo "try '$prog --help'" >&2
    exit 2
}

# libbrisk.so next to this script (build/brisk), in ../lib (installed), or in ../build
# (tools/brisk.sh run from the source tree). BRISK_LIB overrides the search.
find_lib() {
    local c
    for c in ${BRISK_LIB:+"$BRISK_LIB"} "$here/libbrisk.so" "$here/../lib/libbrisk.so" \
             "$here/../build/libbrisk.so"; do
        if [ -f "$c" ]; then
            readlink -f "$c"
            return 0
        fi
    done
    return 1
}

# The version is the one in brisk.h when it sits where we expect it (source tree or
# $PREFIX/include); otherwise the version this script was released with.
version() {
    local h="$here/../include/brisk.h" v=""
    [ -f "$h" ] && v=$(sed -n 's/.*BRISK_VERSION "\(.*\)".*/\1/p' "$h")
    echo "brisk ${v:-0.1.0}"
}

# BRISK_OPTIONS without the entries for the keys given, each kept entry followed by a comma.
options_without() {
    local out="" opt key IFS=,
    local -
    set -f   # split on commas only; no globbing
    for opt in ${BRISK_OPTIONS:-}; do
        [ -n "$opt" ] || continue
        for key in "$@"; do
            case $opt in "$key="*) continue 2 ;; esac
        done
        out="$out$opt,"
    done
    echo "$out"
}

# BRISK_OPTIONS without any stats=... entry, then stats=1 at the end.
with_stats() {
    echo "$(options_without stats)stats=1"
}

cmd_run() {
    local stats=0
    while [ $# -gt 0 ]; do
        case $1 in
            --stats) stats=1; shift ;;
            --) shift; break ;;
            -*) die "run: unknown option '$1'" ;;
            *) break ;;
        esac
    done
    [ $# -gt 0 ] || die "run: no program given"

    local lib
    lib=$(find_lib) || { echo "$prog: libbrisk.so not found near $here (run 'make' first)" >&2; exit 2; }
    if [ $stats = 1 ]; then
        BRISK_OPTIONS=$(with_stats)
        export BRISK_OPTIONS
    fi
    export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
    exec "$@"
}

# The helpers of the insight commands: next to this script (build/), in build/brisk-py, in
# ../lib/brisk (installed), or, run from the source tree, in tools/trace and build/.
find_tool() {
    local c
    for c in "$here/$1" "$here/brisk-py/$1" "$here/../lib/brisk/$1" "$here/trace/$1" \
             "$here/../build/$1" "$here/../build/brisk-py/$1"; do
        if [ -f "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    echo "$prog: $1 not found near $here (run 'make' first)" >&2
    return 1
}

# run_py SCRIPT ARGS...: the picture and table scripts (python3, standard library only).
run_py() {
    local script py
    script=$(find_tool "$1") || exit 2
    shift
    py=$(command -v python3) || { echo "$prog: this command needs python3 (apt-get install python3)" >&2; exit 2; }
    "$py" "$script" "$@"
}

cmd_trace() {
    [ $# -gt 0 ] || die "trace: say summary or replay"
    local sub=$1 tool
    shift
    case $sub in
        summary)
            tool=$(find_tool brisk-trace-summary) || exit 2
            exec "$tool" "$@" ;;
        replay)
            tool=$(find_tool replay.sh) || exit 2
            # shellcheck source=/dev/null
            . "$tool"
            cmd_replay "$@" ;;
        *) die "trace: unknown subcommand '$sub'" ;;
    esac
}

[ $# -gt 0 ] || { usage >&2; exit 2; }
case $1 in
    run) shift; cmd_run "$@" ;;
    trace) shift; cmd_trace "$@" ;;
    heapmap) shift; run_py heapmap.py "$@" ;;
    timeline) shift; run_py timeline.py "$@" ;;
    -h|--help|help) usage ;;
    -V|--version) version ;;
    -*) die "unknown option '$1'" ;;
    *) die "unknown command '$1'" ;;
esac
