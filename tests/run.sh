#!/usr/bin/env bash
# brisk's test runner: `make check` calls it once the library is built.
#
# Compiles every test program into $BUILD/tests (linked against $BUILD/libbrisk.so with an rpath,
# a few statically against $BUILD/libbrisk.a), runs each under a bounded timeout, prints
# PASS/FAIL per test (with the tail of a failing test's output) and ends with the line
# "N passed, N failed". Exit status 1 if anything failed or did not compile.
#
# Environment: BUILD (default build, as in the Makefile), TEST_TIMEOUT (seconds per test,
# default 300), TESTS (space-separated names or shell patterns: run only these, e.g. TESTS="api_std secure_*").
set -u

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
LIB=$BUILD/libbrisk.so
ALIB=$BUILD/libbrisk.a
T=$BUILD/tests
TIMEOUT=${TEST_TIMEOUT:-300}
ONLY=${TESTS:-}
export LC_ALL=C

mkdir -p "$T"
passed=0
failed=0
declare -A broken=()

# ---- tools the tests need (Debian packages), installed when missing ------------------------
ensure_tools() {
    local missing=() pair cmd pkg
    for pair in gcc:gcc g++:g++ sqlite3:sqlite3 git:git /usr/bin/python3:python3 nm:binutils \
                timeout:coreutils; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing missing packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq >/dev/null 2>&1 || true
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || true
        else
            echo "not root: cannot install ${missing[*]}"
        fi
    fi
}
ensure_tools

if [ ! -f "$LIB" ] || [ ! -f "$ALIB" ]; then
    echo "FAIL build: $LIB or $ALIB is missing (run make first)"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- reporting -------------------------------------------------------------------------------
wanted() {
    [ -z "$ONLY" ] && return 0
    local - w
    set -f   # the words are shell patterns (TESTS="secure_*"), not file names
    for w in $ONLY; do
        # shellcheck disable=SC2254
        case $1 in $w) return 0 ;; esac
        # shellcheck disable=SC2254
        case ${1%%:*} in $w) return 0 ;; esac
    done
    return 1
}

pass() { # name [how long]
    echo "PASS $1${2:+ ($2)}"
    passed=$((passed + 1))
}

fail() { # name log [why]
    echo "FAIL $1${3:+ ($3)}"
    if [ -s "$2" ]; then
        tail -n 40 "$2" | sed 's/^/    | /'
    fi
    failed=$((failed + 1))
}

# ---- compiling -------------------------------------------------------------------------------
CFLAGS_T="-O1 -g -Wall -Wextra -fno-builtin -D_GNU_SOURCE -I$ROOT/include"
LINK_SO="-L$BUILD -lbrisk -Wl,-rpath,$BUILD -pthread"

build() { # name command...
    local name=$1 log=$T/$1.build.log
    shift
    if ! "$@" >"$log" 2>&1; then
        broken[$name]=1
        fail "build:$name" "$log" "does not compile"
        return 1
    fi
    return 0
}

cc_so() { # name source [extra flags]
    local name=$1 src=$2
    shift 2
    build "$name" gcc $CFLAGS_T "$@" "$ROOT/tests/$src" -o "$T/$name" $LINK_SO -ldl
}

echo "compiling tests into $T"
cc_so api_std api.c
cc_so api_prefix api.c -DUSE_PREFIX
cc_so stress_std stress.c
cc_so stress_prefix stress.c -DUSE_PREFIX
cc_so fork fork.c
cc_so oom_std oom.c
cc_so oom_prefix oom.c -DUSE_PREFIX
cc_so badfree badfree.c
cc_so misc misc.c
cc_so purge_rss purge_rss.c
build libdlmod gcc -O1 -g -Wall -Wextra -fPIC -shared "$ROOT/tests/dlmod.c" -o "$T/libdlmod.so"
build cxx g++ $CFLAGS_T -fno-allocation-dce -std=gnu++17 "$ROOT/tests/cxx.cpp" -o "$T/cxx" $LINK_SO
build dlbrisk gcc -O1 -g -Wall -Wextra -D_GNU_SOURCE "$ROOT/tests/dlbrisk.c" -o "$T/dlbrisk" -ldl -pthread
build noalloc gcc -O1 -g -Wall -Wextra "$ROOT/tests/noalloc.c" -o "$T/noalloc"
# static linking against libbrisk.a: the C library dynamic, then everything static
build static_a gcc $CFLAGS_T "$ROOT/tests/static.c" "$ALIB" -o "$T/static_a" -lpthread
build static_full gcc $CFLAGS_T -static "$ROOT/tests/static.c" "$ALIB" -o "$T/static_full" -lpthread

# ---- running ---------------------------------------------------------------------------------
# run NAME DEPENDS COMMAND...: runs COMMAND under the timeout, output in $T/NAME.log.
run() {
    local name=$1 deps=$2 log=$T/$1.log d rc
    shift 2
    wanted "$name" || return 0
    for d in $deps; do
        if [ -n "${broken[$d]:-}" ]; then
            : >"$log"
            fail "$name" "$log" "not run: $d did not compile"
            return
        fi
    done
    local start=$SECONDS
    timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1
    rc=$?
    local took="$((SECONDS - start))s"
    if [ $rc -eq 0 ]; then
        pass "$name" "$took"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "$name" "$log" "timed out after ${TIMEOUT}s"
    elif [ $rc -gt 128 ]; then
        fail "$name" "$log" "killed by signal $((rc - 128)) after $took"
    else
        fail "$name" "$log" "exit status $rc after $took"
    fi
}

# The brisk report at exit (BRISK_OPTIONS=stats=1): "brisk: stats..." then a line
# "  allocations   N". Succeeds when FILE holds a report with N > 0 (N printed on stdout).
stats_allocations() {
    awk '
        /^brisk: stats/ { inrep = 1; seen = 1; next }
        inrep && /^[ \t]*allocations[ \t]+[0-9]+/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { n += $i; break } }
        inrep && !/^[ \t]/ { inrep = 0 }
        END { if (!seen) exit 2; print n + 0; if (n + 0 <= 0) exit 1 }
    ' "$1"
}
export -f stats_allocations

# Remove brisk's report (its header line and the indented lines after it) from FILE.
strip_report() {
    awk '/^brisk: stats/ { skip = 1; next } skip && /^[ \t]/ { next } { skip = 0; print }' "$1"
}
export -f strip_report

t_exports() {
    local syms="malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc
        pvalloc malloc_usable_size malloc_trim mallinfo mallinfo2 malloc_stats malloc_info mallopt
        free_sized free_aligned_sized __libc_malloc __libc_free __libc_calloc __libc_realloc
        __libc_memalign __posix_memalign brisk_malloc brisk_free brisk_calloc brisk_realloc
        brisk_reallocarray brisk_posix_memalign brisk_aligned_alloc brisk_memalign brisk_valloc
        brisk_pvalloc brisk_malloc_usable_size brisk_free_sized brisk_free_aligned_sized
        brisk_trim brisk_get_stats brisk_stats_print"
    local dyn stat s bad=0
    dyn=$(nm -D --defined-only "$LIB" | awk '$2 ~ /^[TtWwiV]$/ { print $3 }' | sed 's/@.*//')
    stat=$(nm --defined-only "$ALIB" 2>/dev/null | awk '$2 ~ /^[TWiV]$/ { print $3 }')
    for s in $syms; do
        if ! grep -qx -- "$s" <<<"$dyn"; then
            echo "libbrisk.so does not export $s"
            bad=1
        fi
        if ! grep -qx -- "$s" <<<"$stat"; then
            echo "libbrisk.a does not define $s"
            bad=1
        fi
    done
    [ $bad -eq 0 ] && echo "all $(wc -w <<<"$syms") names exported by libbrisk.so and libbrisk.a"
    return $bad
}
export -f t_exports
export LIB ALIB

# BRISK_OPTIONS=stats=1 prints the report at exit; without it brisk prints nothing.
t_stats_report() {
    local out=$T/stats_report.err
    BRISK_OPTIONS=stats=1 "$T/api_std" malloc0 >/dev/null 2>"$out" || { echo "api_std failed"; cat "$out"; return 1; }
    local first n
    first=$(grep -m1 '^brisk:' "$out")
    case $first in
        "brisk: stats"*) ;;
        *) echo "first brisk line on stderr is not the report: '$first'"; cat "$out"; return 1 ;;
    esac
    n=$(stats_allocations "$out") || { echo "no 'allocations N' line with N > 0:"; cat "$out"; return 1; }
    [ "$n" -ge 512 ] || { echo "report counts $n allocations; the program made more than 512"; cat "$out"; return 1; }
    "$T/api_std" malloc0 >/dev/null 2>"$out" || return 1
    if grep -q '^brisk:' "$out"; then
        echo "brisk printed without BRISK_OPTIONS:"
        cat "$out"
        return 1
    fi
    # preloaded runs of programs that do not link brisk; ls (coreutils) closes stderr in an
    # atexit handler, before library destructors run: the report must get out all the same
    BRISK_OPTIONS=stats=1 LD_PRELOAD=$LIB bash -c 'x=$(echo hello); echo "$x"' >/dev/null 2>"$out" || return 1
    n=$(stats_allocations "$out") || { echo "no report from bash under LD_PRELOAD:"; cat "$out"; return 1; }
    BRISK_OPTIONS=stats=1 LD_PRELOAD=$LIB ls / >/dev/null 2>"$out" || return 1
    local nls
    nls=$(stats_allocations "$out") || { echo "no report from ls under LD_PRELOAD:"; cat "$out"; return 1; }
    echo "report ok: api_std counted >= 512 allocations, bash under LD_PRELOAD $n, ls $nls"
}
export -f t_stats_report
export T

# The static programs: brisk's report at exit proves brisk served them too.
t_static() {
    local bin=$1 out=$T/$(basename "$1").err
    BRISK_OPTIONS=stats=1 "$bin" 2>"$out" || { cat "$out"; return 1; }
    stats_allocations "$out" >/dev/null || { echo "no brisk report with allocations > 0:"; cat "$out"; return 1; }
    echo "brisk report present:"
    cat "$out"
}
export -f t_static

# A program that never allocates keeps a small RSS under brisk.
t_noalloc_rss() {
    local plain pre
    plain=$("$T/noalloc") || return 1
    pre=$(LD_PRELOAD=$LIB "$T/noalloc") || return 1
    echo "VmRSS without brisk: $plain kB, with LD_PRELOAD=libbrisk.so: $pre kB"
    [ "$pre" -lt 4096 ] || { echo "RSS under brisk is $pre kB (limit 4096 kB)"; return 1; }
    [ $((pre - plain)) -lt 1024 ] || { echo "brisk adds $((pre - plain)) kB (limit 1024 kB)"; return 1; }
}
export -f t_noalloc_rss

echo "running tests (timeout ${TIMEOUT}s each)"
run exports "" bash -c t_exports
# the unit tests, each rule in its own process, through both sets of names
for api in std prefix; do
    if [ -n "${broken[api_$api]:-}" ]; then
        run "api_$api" "api_$api" true
        continue
    fi
    list=$(timeout 60 "$T/api_$api" --list 2>"$T/api_$api.list.log")
    if [ $? -ne 0 ] || [ -z "$list" ]; then
        wanted "api_$api" && fail "api_$api" "$T/api_$api.list.log" "cannot even list its tests"
        continue
    fi
    for t in $list; do
        run "api_$api:$t" "" "$T/api_$api" "$t"
    done
done
run stats_report "api_std" bash -c t_stats_report
for op in free realloc brisk_free brisk_realloc; do
    run "badfree:$op" "badfree" "$T/badfree" "$op" -interior_aligned_page
done
run "badfree:interior_aligned_page" "badfree" "$T/badfree" all interior_aligned_page
run misc "misc libdlmod" "$T/misc" "$T/libdlmod.so"
run cxx "cxx" "$T/cxx"
run dlopen_brisk "dlbrisk" "$T/dlbrisk" "$LIB"
run static_a "static_a" bash -c "t_static $T/static_a"
run static_full "static_full" bash -c "t_static $T/static_full"
run noalloc_rss "noalloc" bash -c t_noalloc_rss
run oom_std "oom_std" "$T/oom_std"
run oom_prefix "oom_prefix" "$T/oom_prefix"
run stress_single "stress_std" "$T/stress_std" single
run stress_single_prefix "stress_prefix" "$T/stress_prefix" single
run stress_threads "stress_std" "$T/stress_std" threads
run stress_threads_prefix "stress_prefix" "$T/stress_prefix" threads
run stress_many "stress_std" "$T/stress_std" many
run stress_prodcons "stress_std" "$T/stress_std" prodcons
run stress_storm "stress_std" "$T/stress_std" storm
run stress_purge "stress_std" "$T/stress_std" purge
run purge_rss "purge_rss" "$T/purge_rss"
run purge_rss_pool "purge_rss" "$T/purge_rss" pool
# the same with brisk purging at every opportunity (its delay option at 0)
run stress_purge_eager "stress_std" env BRISK_OPTIONS=purge_delay_ms=0 "$T/stress_std" purge
run stress_threads_eager "stress_std" env BRISK_OPTIONS=purge_delay_ms=0 "$T/stress_std" threads
run stress_storm_eager "stress_std" env BRISK_OPTIONS=purge_delay_ms=0 "$T/stress_std" storm
run fork_threads "fork" "$T/fork" threads
run fork_stdio "fork" "$T/fork" stdio
run fork_orphans "fork" "$T/fork" orphans
for prog in python sqlite gcc git; do
    run "real_$prog" "" env BRISK_LIB="$LIB" WORK="$T/real_$prog" bash "$ROOT/tests/realprog.sh" "$prog"
done

# more suites, each a fragment with its own build and run lines (tests/suites/NAME.sh), sourced
# here so they share build/run/pass/fail and the one summary line
for suite in "$ROOT"/tests/suites/*.sh; do
    [ -f "$suite" ] || continue
    # shellcheck source=/dev/null
    . "$suite"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
