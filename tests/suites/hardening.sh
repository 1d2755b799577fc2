# Hardening suite (issue 4), sourced by tests/run.sh: the misuse catalogue of the default mode,
# the API fuzzer, the library under UBSan, memcheck runs, and fault-tolerance tests (address
# space exhausted again and again, 10,000 threads, a soak). Everything bounds its work, not its
# time. The long versions and the runs that do not pass yet are make targets (mk/hardening.mk):
# `make fuzz`, `make soak`, `make hardening-gaps` (what is left: none of its runs fails now).
#
# The sanitizer and memcheck runs call test binaries directly, never tests/run.sh (which would
# source this file again).

HARD=$BUILD/hardening
export HARD ROOT

# tools (clang with libFuzzer, valgrind), then the sanitizer builds through mk/hardening.mk
build hardening_tools bash "$ROOT/tests/hardening-tools.sh"
build hard_ubsan make -s --no-print-directory -C "$ROOT" BUILD="$BUILD" "$HARD/ubsan/libbrisk.so"
build hard_fuzz make -s --no-print-directory -C "$ROOT" BUILD="$BUILD" "$HARD/fuzz/fuzz_api"
cc_so misuse misuse.c
cc_so soak soak.c
cc_so threads10k threads10k.c
cc_so oom_cycles oom_cycles.c
cc_so oom_cycles_prefix oom_cycles.c -DUSE_PREFIX

# libFuzzer: the regression inputs once each, then FUZZ_CHECK_RUNS runs (default 10,000) from
# the committed corpus (copied: new inputs stay out of the tree). Passes only when libFuzzer
# says it executed every one of them.
t_fuzz() {
    local fz=$HARD/fuzz/fuzz_api work=$HARD/fuzz/check-corpus log=$HARD/fuzz/check.log
    local runs=${FUZZ_CHECK_RUNS:-10000} done_runs rc
    rm -rf "$work" && mkdir -p "$work" "$HARD/fuzz/check-artifacts" || return 1
    cp "$ROOT"/tests/fuzz/corpus/* "$work"/ || return 1
    local regress=("$ROOT"/tests/fuzz/regress/*)
    if [ -f "${regress[0]}" ]; then
        "$fz" "${regress[@]}" >"$log" 2>&1 || { tail -30 "$log"; return 1; }
        echo "regression inputs: ${#regress[@]} passed"
    fi
    "$fz" -runs="$runs" -seed=1 -max_len=1024 -print_final_stats=1 \
        -artifact_prefix="$HARD/fuzz/check-artifacts/" "$work" >"$log" 2>&1
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done|^stat::' "$log"
    done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
    if [ $rc -ne 0 ] || [ "${done_runs:-0}" -lt "$runs" ]; then
        echo "libFuzzer: exit status $rc after ${done_runs:-no} runs of $runs"
        tail -40 "$log"
        return 1
    fi
}
export -f t_fuzz

# Test programs with LD_PRELOAD of the UBSan build of brisk: any "runtime error" fails.
t_ubsan() {
    local lib=$HARD/ubsan/libbrisk.so out=$T/ubsan.out bad=0 t
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    # the preloaded library is the one that serves (libbrisk.so satisfies the programs' NEEDED)
    LD_PRELOAD=$lib cat /proc/self/maps | grep -q "hardening/ubsan/libbrisk.so" ||
        { echo "the UBSan build is not what a preloaded program maps"; return 1; }
    ub() {
        local t0=$SECONDS rc
        LD_PRELOAD=$lib "$@" >"$out" 2>&1
        rc=$?
        if [ $rc -ne 0 ] || grep -q "runtime error" "$out"; then
            echo "FAILED under UBSan (exit $rc): $*"
            grep -m5 -A8 "runtime error" "$out" || tail -20 "$out"
            bad=1
        else
            echo "clean ($((SECONDS - t0))s): $*"
        fi
    }
    for t in $("$T/api_std" --list); do ub "$T/api_std" "$t"; done
    for t in $("$T/api_prefix" --list); do ub "$T/api_prefix" "$t"; done
    for m in single threads prodcons storm many; do ub "$T/stress_std" "$m"; done
    ub "$T/fork" stdio
    ub "$T/oom_std"
    ub "$T/badfree" all -interior_aligned_page
    ub "$T/misuse" suite
    ub "$T/threads10k"
    ub "$T/oom_cycles"
    ub env PYTHONMALLOC=malloc /usr/bin/python3 "$ROOT/tests/memcheck_job.py"
    return $bad
}
export -f t_ubsan

# Memcheck, two ways (valgrind 3.19 puts its own malloc in place of any malloc it finds, brisk's
# included, unless told otherwise):
#  - with --soname-synonyms=somalloc=libbrisk.so, valgrind's allocator serves: this checks the
#    programs (Python, SQLite, the tests) and brisk's code outside the allocator (start-up,
#    options, statistics, the exit report), not brisk's allocator;
#  - with somalloc=nouse, brisk serves every allocation and memcheck watches brisk's own code:
#    uses of uninitialised values and accesses outside mapped memory. brisk has no client
#    annotations yet, so memcheck sees brisk's heap as plain mapped memory: no check of the
#    program's accesses to blocks (overruns, use after free) in this mode.
t_memcheck() {
    local out=$T/memcheck.out bad=0 t
    vg() { # mode command...
        local mode=$1 t0=$SECONDS
        shift
        LD_PRELOAD=$LIB PYTHONMALLOC=malloc BRISK_OPTIONS=stats=1 valgrind --error-exitcode=99 \
            --soname-synonyms=somalloc="$mode" "$@" >"$out" 2>&1
        local rc=$? n
        n=$(stats_allocations "$out" 2>/dev/null)
        if [ $rc -ne 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" "$out"; then
            echo "FAILED under memcheck ($mode, exit $rc): $*"
            grep -m3 -A10 -E "^==[0-9]+== [A-Z]" "$out" | head -40
            bad=1
        elif [ "$mode" = nouse ] && [ "${n:-0}" -le 0 ]; then
            echo "memcheck ($mode): brisk's report counts no allocations: brisk did not serve $*"
            bad=1
        elif [ "$mode" != nouse ] && [ -n "$n" ]; then
            echo "memcheck ($mode): brisk served $n allocations: valgrind did not replace it"
            bad=1
        else
            echo "0 errors ($mode, $((SECONDS - t0))s${n:+, brisk served $n allocations}): $*"
        fi
    }
    vg libbrisk.so /usr/bin/python3 "$ROOT/tests/memcheck_job.py"
    vg libbrisk.so /usr/bin/sqlite3 :memory: "create table t(a, b); with recursive c(x) as
        (select 1 union all select x + 1 from c where x < 5000) insert into t select x, hex(x)
        from c; create index i on t(b); select count(*), sum(a) from t where b like '1%';"
    vg nouse /usr/bin/python3 "$ROOT/tests/memcheck_job.py"
    # the API tests that allocate and are quick under memcheck, through both sets of names.
    # Not `alignment`: memcheck flags writes into the part of a large block that brisk grew
    # with mremap (the same system calls replayed alone are clean: its view of mremap)
    for t in malloc0 free_errno too_large valloc_pvalloc free_sized routing big_free_rss trim; do
        vg nouse "$T/api_prefix" "$t"
        vg nouse "$T/api_std" "$t"
    done
    vg nouse "$T/api_prefix" stats
    for t in mallinfo2 malloc_info mallopt; do vg nouse "$T/api_std" "$t"; done
    return $bad
}
export -f t_memcheck

run hardening:misuse "misuse" "$T/misuse" suite
run hardening:misuse_secure "misuse" env BRISK_OPTIONS=secure=1 "$T/misuse" suite
# 10000 runs of the ASan-built fuzzer take 200-300 s on a 2-core machine, so the common 300 s
# would time the work out rather than bound it: this test alone gets 900 s
TIMEOUT=$((TIMEOUT > 900 ? TIMEOUT : 900)) run hardening:fuzz "hardening_tools hard_fuzz" bash -c t_fuzz
run hardening:ubsan "hard_ubsan api_std api_prefix stress_std fork oom_std badfree misuse threads10k oom_cycles" \
    bash -c t_ubsan
run hardening:memcheck "hardening_tools api_std api_prefix" bash -c t_memcheck
run hardening:soak "soak" "$T/soak" 1 4
run hardening:soak_secure "soak" env BRISK_OPTIONS=secure=1 "$T/soak" 1 4
run hardening:threads10k "threads10k" "$T/threads10k"
run hardening:oom_cycles "oom_cycles" "$T/oom_cycles"
run hardening:oom_cycles_prefix "oom_cycles_prefix" "$T/oom_cycles_prefix"
# the multi-threaded tests under ThreadSanitizer, through the prefixed API (mk/hardening.mk: any
# report fails); and the secure-mode fuzzer finds, now fixed, once each
# (the lighter three here, ~2 minutes; `make tsan` runs the stress tests' threads and prodcons too)
run hardening:tsan "hardening_tools" make -s --no-print-directory -C "$ROOT" BUILD="$BUILD" \
    TSAN_RUNS='"stress storm" "soak 1 4" "threads10k" "extent_review stress"' tsan
# and in secure mode (its quarantines, and the free's read of the neighbour's canary word)
run hardening:tsan_secure "hardening_tools" env BRISK_OPTIONS=secure=1 make -s --no-print-directory \
    -C "$ROOT" BUILD="$BUILD" TSAN_RUNS='"soak 1 4"' tsan
run hardening:fuzz_secure_regress "hardening_tools hard_fuzz" \
    env BRISK_OPTIONS=secure=1 "$HARD/fuzz/fuzz_api" "$ROOT"/tests/fuzz/regress-secure/*
# a shorter fuzz run in secure mode (its quarantine, canaries and in-place realloc)
t_fuzz_secure() { BRISK_OPTIONS=secure=1 FUZZ_CHECK_RUNS=${FUZZ_SECURE_RUNS:-600} t_fuzz; }
export -f t_fuzz_secure
# (600 runs took 214 s on this 2-core machine lightly loaded, and ran past 300 s under load: the
# work is bounded, so like hardening:fuzz it gets 900 s)
TIMEOUT=$((TIMEOUT > 900 ? TIMEOUT : 900)) run hardening:fuzz_secure "hardening_tools hard_fuzz" bash -c t_fuzz_secure
