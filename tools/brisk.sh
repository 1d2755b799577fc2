#!/usr/bin/env bash
# brisk: run a program with the brisk allocator (LD_PRELOAD=libbrisk.so).
# Installed as build/brisk by `make` and as $PREFIX/bin/brisk by `make install`.
set -u

prog=${0##*/}
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)

usage() {
    cat <<EOF
usage: $prog run [--stats] [--] PROGRAM [ARGS...]
       $prog --help | --version

  run        run PROGRAM with brisk replacing malloc (LD_PRELOAD=libbrisk.so,
             placed before any LD_PRELOAD already set)
  --stats    print brisk's statistics on stderr when PROGRAM exits
             (adds stats=1 to BRISK_OPTIONS, keeping the other options)

Options are read from BRISK_OPTIONS, e.g. BRISK_OPTIONS=stats=1,purge_delay_ms=100.
The library used: $(find_lib 2>/dev/null || echo "(not found)") (BRISK_LIB=PATH picks another).
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

# BRISK_OPTIONS without any stats=... entry, then stats=1 at the end.
with_stats() {
    local out="" opt IFS=,
    local -
    set -f   # split on commas only; no globbing
    for opt in ${BRISK_OPTIONS:-}; do
        case $opt in
            stats=*|"") ;;
            *) out="$out$opt," ;;
        esac
    done
    echo "${out}stats=1"
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

[ $# -gt 0 ] || { usage >&2; exit 2; }
case $1 in
    run) shift; cmd_run "$@" ;;
    -h|--help|help) usage ;;
    -V|--version) version ;;
    -*) die "unknown option '$1'" ;;
    *) die "unknown command '$1'" ;;
esac
