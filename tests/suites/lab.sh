# The lab suite (issue 6, docs/lab.md), sourced by tests/run.sh. The four lab allocators
# (lab/, built by `make lab-libs` into $BUILD/lab/) run under LD_PRELOAD: the parts of brisk's
# own test programs that apply to them, the lab's own tests (lab/tests/labtest.c), and python3
# and sqlite3 with the same output as a plain run. Every preloaded run of a brisk test program
# must end with the design's exit report (LAB_STATS=1) saying that the program's malloc was the
# design's: proof that the lab allocator, not brisk or glibc, served it.
#
# Test names: lab_DESIGN:WHAT (TESTS="lab_binned" runs all of binned's).

LABDIR=$BUILD/lab
export LABDIR ROOT
build lab_libs make -s -C "$ROOT" BUILD="$BUILD" lab-libs
build labtest gcc $CFLAGS_T -I"$ROOT/tests" "$ROOT/lab/tests/labtest.c" -o "$T/labtest" -pthread -ldl

# Every name a program may call must be the lab's, or a block crosses allocators.
t_lab_exports() { # DESIGN
    local s bad=0 names
    names=$(nm -D --defined-only "$LABDIR/$1.so" | awk '$2 == "T" { print $3 }')
    for s in malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc \
             pvalloc malloc_usable_size free_sized free_aligned_sized; do
        grep -qx -- "$s" <<<"$names" || { echo "$1.so does not export $s"; bad=1; }
    done
    [ $bad = 0 ] && echo "$1.so exports the whole family"
    return $bad
}

# t_lab_preload DESIGN PROGRAM ARGS...: PROGRAM under the design, whose exit report must say
# that the program's malloc was the design's.
t_lab_preload() {
    local d=$1 err rc=0
    shift
    err=$(mktemp "$T/lab_$d.XXXXXX.err")
    LAB_STATS=1 LD_PRELOAD=$LABDIR/$d.so "$@" 2>"$err" || rc=$?
    cat "$err" >&2
    if [ $rc = 0 ] && ! grep -q "^lab: $d.*: malloc is this library's" "$err"; then
        echo "no 'lab: $d' exit report saying that malloc was $d.so's" >&2
        rc=1
    fi
    rm -f "$err"
    return $rc
}

# t_lab_real DESIGN python|sqlite: the lab's job, plainly and under the design; stdout equal,
# stderr equal once the design's report line is removed.
t_lab_real() {
    local d=$1 prog=$2 w=$T/lab_real_$1_$2${LAB_FIT:+_$LAB_FIT} in=/dev/null f
    local -a cmd
    case $prog in
        python) cmd=(env PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 -I -B "$ROOT/lab/bench/job.py") ;;
        sqlite) cmd=(/usr/bin/sqlite3 -batch -init /dev/null :memory:); in=$ROOT/lab/bench/job.sql ;;
    esac
    rm -rf "$w" && mkdir -p "$w"
    "${cmd[@]}" <"$in" >"$w/plain.out" 2>"$w/plain.err" || { echo "plain $prog failed"; cat "$w/plain.err"; return 1; }
    t_lab_preload "$d" "${cmd[@]}" <"$in" >"$w/lab.out" 2>"$w/lab.err" || { echo "$prog under $d failed:"; tail -n 20 "$w/lab.err"; return 1; }
    grep -v "^lab: $d" "$w/lab.err" >"$w/lab.err.stripped" || true
    for f in out err; do
        local other=$w/lab.$f
        [ $f = err ] && other=$w/lab.err.stripped
        if ! cmp -s "$w/plain.$f" "$other"; then
            echo "$prog: std$f differs under $d:"
            diff "$w/plain.$f" "$other" | head -n 20
            return 1
        fi
    done
    if ! grep -Eq "^lab: $d.* [1-9][0-9]* taken in all" "$w/lab.err"; then
        echo "$d took no memory from the OS while $prog ran"
        return 1
    fi
    echo "$prog under $d: $(wc -l <"$w/plain.out") lines, identical to the plain run; $(grep "^lab: $d" "$w/lab.err")"
}
export -f t_lab_exports t_lab_preload t_lab_real

# brisk's api tests that apply to every design. Left out everywhere: realloc (it ends by
# reading brisk's own live-byte count, which never sees a lab block: labtest's realloc checks
# the same rules), routing (brisk's counters), trim (malloc_trim is brisk's or glibc's, not the
# lab's), mallinfo2, malloc_info, malloc_stats, mallopt (brisk's introspection).
lab_api="alignment malloc0 usable_size free_errno too_large posix_memalign_einval
         aligned_alloc_einval aligned_many valloc_pvalloc free_sized"

for d in bump freelist coalesce binned; do
    run "lab_$d:exports" "lab_libs" bash -c "t_lab_exports $d"
    extra=
    # calloc_dirty: bump never frees, and the test's rounds of 32 MiB would add up to 1.8 GB
    # resident; labtest's foreign_brk checks bump's calloc against dirty memory instead.
    # big_free_rss: bump and freelist never give memory back, by design.
    case $d in
        bump) ;;
        freelist) extra="calloc_dirty" ;;
        *) extra="calloc_dirty big_free_rss" ;;
    esac
    for t in $lab_api $extra; do
        run "lab_$d:api_$t" "lab_libs api_std" bash -c "t_lab_preload $d $T/api_std $t"
    done
    # stress: single repeats 600,000 random operations (bump would keep ~4 GB); many frees
    # 1 million small blocks and reallocs the other million larger: first fit on one list
    # (freelist, coalesce) scans a million blocks too small for each realloc, ~10^12 steps.
    case $d in bump | binned) run "lab_$d:stress_many" "lab_libs stress_std" bash -c "t_lab_preload $d $T/stress_std many" ;; esac
    [ $d != bump ] && run "lab_$d:stress_single" "lab_libs stress_std" bash -c "t_lab_preload $d $T/stress_std single"
    # fork stdio (glibc bug 19431) loops until its time is up, so bump's memory would grow
    # without bound; fork threads reads brisk's mallinfo2 (labtest's fork_threads instead).
    [ $d != bump ] && run "lab_$d:fork_stdio" "lab_libs fork" bash -c "t_lab_preload $d $T/fork stdio"
    # oom: after freeing everything, a 128 MiB block must fit again: only designs that merge
    # freed memory (coalesce, binned) can.
    case $d in coalesce | binned) run "lab_$d:oom" "lab_libs oom_std" bash -c "t_lab_preload $d $T/oom_std" ;; esac

    # the lab's own tests
    mine="realloc foreign_brk fork_threads threads"
    case $d in
        bump) mine="$mine bump_no_reuse" ;; # free does nothing: no double free to catch
        freelist) mine="$mine double_free" ;;
        coalesce) mine="$mine double_free coalesce_merge coalesce_trim" ;;
        binned) mine="$mine double_free binned_layout binned_tcache binned_bins binned_mmap binned_arenas" ;;
    esac
    for t in $mine; do
        run "lab_$d:$t" "lab_libs labtest" env LD_PRELOAD="$LABDIR/$d.so" "$T/labtest" "$d" "$t"
    done
    run "lab_$d:python" "lab_libs" bash -c "t_lab_real $d python"
    run "lab_$d:sqlite" "lab_libs" bash -c "t_lab_real $d sqlite"
    # the design built with UBSan (trapping: undefined behaviour is a SIGILL)
    for t in realloc foreign_brk threads; do
        run "lab_$d:ubsan_$t" "lab_libs labtest" env LD_PRELOAD="$LABDIR/ubsan/$d.so" "$T/labtest" "$d" "$t"
    done
    run "lab_$d:ubsan_python" "lab_libs" env LABDIR="$LABDIR/ubsan" bash -c "t_lab_real $d python"
done
# freelist's three policies: each picks its own block in the same scenario; python under each
for fit in first next best; do
    run "lab_freelist:fit_$fit" "lab_libs labtest" env LAB_FIT=$fit LD_PRELOAD="$LABDIR/freelist.so" "$T/labtest" freelist fit
    [ $fit != first ] && run "lab_freelist:python_$fit" "lab_libs" env LAB_FIT=$fit bash -c "t_lab_real freelist python"
done
unset d t extra mine fit lab_api
