#!/usr/bin/env bash
# make bench: first speed figures. Builds bench/*.c into build/bench/, runs every workload under
# glibc's malloc (no preload), brisk (LD_PRELOAD=build/libbrisk.so) and, when their Debian
# packages are installed or installable, jemalloc, tcmalloc and mimalloc; the allocators take
# turns (A B C A B C ...). Prints median wall time and median peak RSS per allocator, and the
# brisk/glibc ratios, and writes the same table to bench/results/latest.md.
#
# Environment: QUICK=1 (3 runs, a fifth of the work), RUNS=N, ALLOCS="glibc brisk ..." (which
# columns), OTHERS=0 (no jemalloc/tcmalloc/mimalloc, and no apt-get), CC.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
unset LD_PRELOAD
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then runs=${RUNS:-3}; div=5; else runs=${RUNS:-5}; div=1; fi
bin=$root/build/bench
results=$root/bench/results/latest.md
libdir=/usr/lib/x86_64-linux-gnu
mkdir -p "$bin" "$(dirname "$results")"

# --- Allocators: a name, the library to preload ("" for none), its Debian package. ---
declare -A lib=([glibc]="" [brisk]="$root/build/libbrisk.so"
                [jemalloc]="$libdir/libjemalloc.so.2" [tcmalloc]="$libdir/libtcmalloc_minimal.so.4"
                [mimalloc]="$libdir/libmimalloc.so.2")
declare -A pkg=([jemalloc]=libjemalloc2 [tcmalloc]=libtcmalloc-minimal4 [mimalloc]=libmimalloc2.0)
others=(jemalloc tcmalloc mimalloc)

if [ ! -f "${lib[brisk]}" ]; then
    echo "bench: ${lib[brisk]} is missing: run 'make bench' (it builds it)" >&2
    exit 1
fi
if [ "${OTHERS:-1}" != 0 ] && [ -z "${ALLOCS:-}" ]; then
    missing=()
    for a in "${others[@]}"; do [ -f "${lib[$a]}" ] || missing+=("${pkg[$a]}"); done
    if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bench: installing ${missing[*]} with apt-get (OTHERS=0 to skip)"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
            >/dev/null 2>&1 || echo "bench: apt-get failed; going on without them"
    fi
fi
if [ -n "${ALLOCS:-}" ]; then
    read -r -a allocs <<<"$ALLOCS"
    for a in "${allocs[@]}"; do
        [ -n "${lib[$a]+set}" ] || { echo "bench: unknown allocator '$a'" >&2; exit 2; }
    done
else
    allocs=(glibc brisk)
    if [ "${OTHERS:-1}" != 0 ]; then
        for a in "${others[@]}"; do [ -f "${lib[$a]}" ] && allocs+=("$a"); done
    fi
fi
for a in "${allocs[@]}"; do
    if [ -n "${lib[$a]}" ] && [ ! -f "${lib[$a]}" ]; then
        echo "bench: ${lib[$a]} ($a) is missing" >&2
        exit 1
    fi
done

# --- Build. -fno-builtin: the compiler must not delete or merge the malloc/free pairs. ---
cc=${CC:-cc}
cflags=(-O2 -g -Wall -Wextra -fno-builtin -pthread)
"$cc" "${cflags[@]}" -o "$bin/loop" bench/loop.c
"$cc" "${cflags[@]}" -o "$bin/mt" bench/mt.c
"$cc" -O2 -Wall -Wextra -o "$bin/timeit" bench/timeit.c

# --- Workloads: name|command (a program of build/bench and its arguments)|what it does ---
workloads=(
    "fixed-64|loop fixed $((50000000 / div)) 64|1 thread: malloc(64), write, check, free; repeated"
    "fixed-1m|loop fixed $((500000 / div)) 1048576|1 thread: malloc(1 MiB), write one byte per 4 KiB, check, free; repeated"
    "random|loop random $((30000000 / div))|1 thread: 1000 live blocks; replace a random one with 8..1024 B"
    "mt-2|mt 2 $((10000000 / div))|2 threads, larson-style slots of 8..1024 B; 1/4 of blocks freed by another thread"
    "mt-8|mt 8 $((2000000 / div))|8 threads (on $(nproc) CPUs), same as mt-2"
)
field() { local IFS='|'; local -a f; read -r -a f <<<"$1"; echo "${f[$2]}"; }

work=$(mktemp -d /tmp/brisk-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
raw=$work/raw.txt
: >"$raw"
failures=()

echo "bench: ${#workloads[@]} workloads x ${allocs[*]} x $runs runs$([ "$quick" = 1 ] && echo ' (QUICK)')"
for w in "${workloads[@]}"; do
    name=$(field "$w" 0)
    read -r -a cmd <<<"$(field "$w" 1)"
    printf '  %-9s' "$name"
    for ((r = 1; r <= runs; r++)); do
        for a in "${allocs[@]}"; do
            base=$work/$name.$a.$r
            rc=0
            "$bin/timeit" -t 120 -o "$base.time" -- \
                env ${lib[$a]:+LD_PRELOAD=${lib[$a]}} "$bin/${cmd[0]}" "${cmd[@]:1}" \
                >"$base.out" 2>"$base.err" || rc=$?
            # The programs' output depends only on their arguments: it must match the first run's.
            ref=$work/$name.ref
            [ $rc != 0 ] || [ -f "$ref" ] || cp "$base.out" "$ref"
            why=
            if [ $rc != 0 ]; then
                why="exit status $rc$([ $rc = 124 ] && echo ' (timed out)'): $(tail -n 3 "$base.err")"
            elif ! cmp -s "$base.out" "$ref"; then
                why="printed '$(head -c 300 "$base.out")' where the first run printed '$(head -c 300 "$ref")'"
            fi
            if [ -n "$why" ]; then
                failures+=("$name under $a, run $r: $(printf '%s' "$why" | tr '\n' ' ')")
                echo "$name $a $r FAIL FAIL" >>"$raw"
                printf 'x'
                continue
            fi
            read -r secs rss <"$base.time"
            echo "$name $a $r $secs $rss" >>"$raw"
            printf '.'
        done
    done
    echo " $(head -n 1 "$work/$name.ref" 2>/dev/null || echo 'every run failed')"
done

# --- Report: medians per workload and allocator. ---
# median WORKLOAD ALLOC FIELD (4: seconds, 5: KB): the median, or FAIL if any run failed.
median() {
    awk -v w="$1" -v a="$2" -v f="$3" '$1 == w && $2 == a { if ($f == "FAIL") bad = 1; else v[n++] = $f }
        END { if (bad || n == 0) { print "FAIL"; exit }
              for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
              print (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2 }' "$raw"
}
fmt_s() { if [ "$1" = FAIL ]; then echo FAIL; else awk -v x="$1" 'BEGIN { printf "%.3f", x }'; fi; }
fmt_mib() { if [ "$1" = FAIL ]; then echo FAIL; else awk -v x="$1" 'BEGIN { printf "%.1f", x / 1024 }'; fi; }
ratio() {
    if [ "$1" = FAIL ] || [ "$2" = FAIL ]; then echo -; else
        awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }'; fi
}
table() { # table FIELD FORMATTER
    local head="| workload |" line="|---|" name a g b row
    for a in "${allocs[@]}"; do head="$head $a |"; line="$line---:|"; done
    echo "$head brisk/glibc |"
    echo "$line---:|"
    for w in "${workloads[@]}"; do
        name=$(field "$w" 0)
        row="| $name |"
        for a in "${allocs[@]}"; do row="$row $("$2" "$(median "$name" "$a" "$1")") |"; done
        g=$(median "$name" glibc "$1"); b=$(median "$name" brisk "$1")
        echo "$row $(ratio "$g" "$b") |"
    done
}
version_of() {
    case $1 in
        glibc) ldd --version 2>/dev/null | head -n 1 | sed 's/.* //' ;;
        brisk) sed -n 's/.*BRISK_VERSION "\(.*\)".*/\1/p' include/brisk.h ;;
        *) dpkg-query -W -f='${Version}' "${pkg[$1]}" 2>/dev/null || echo '?' ;;
    esac
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo none)
git diff --quiet HEAD 2>/dev/null || commit="$commit (with local changes)"
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
versions=$(for a in "${allocs[@]}"; do printf '%s %s; ' "$a" "$(version_of "$a")"; done)
quick_note=
[ "$quick" = 1 ] && quick_note=" QUICK=1"
{
    echo "# brisk benchmark results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $commit"
    echo "- machine: $cpu, $(nproc) CPUs, Linux $(uname -r), $("$cc" --version | head -n 1)"
    echo "- allocators: ${versions%; }"
    [ -z "${BRISK_OPTIONS:-}" ] || echo "- BRISK_OPTIONS=$BRISK_OPTIONS"
    echo "- $runs runs per allocator and workload, allocators taking turns${quick_note:+; QUICK=1: a fifth of the work per run}"
    echo "- made by \`make bench$quick_note\` (bench/run.sh); ratios below 1 mean brisk is faster or smaller"
    echo
    echo "## Wall time, median (seconds)"
    echo
    table 4 fmt_s
    echo
    echo "## Peak RSS, median (MiB)"
    echo
    table 5 fmt_mib
    echo
    echo "## Workloads"
    echo
    for w in "${workloads[@]}"; do
        echo "- \`$(field "$w" 0)\`: $(field "$w" 2) (\`$(field "$w" 1)\`)"
    done
} >"$work/report.md"

echo
cat "$work/report.md"
cp "$work/report.md" "$results"
cp "$raw" "$bin/raw.txt"
echo
echo "bench: written to ${results#"$root"/}; every run's figures in ${bin#"$root"/}/raw.txt"
if [ ${#failures[@]} -gt 0 ]; then
    echo "bench: FAILED runs:"
    printf '  - %s\n' "${failures[@]}"
    exit 1
fi
