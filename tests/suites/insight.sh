# The insight tools (docs/insight.md): `brisk trace summary`, `brisk trace replay`,
# `brisk heapmap`, `brisk timeline`. Sourced by tests/run.sh (its build/run/pass/fail).
#
# Known traces come from tests/insight/gentrace.py (a hand-made one whose figures were worked
# out by hand, and simulated multi-threaded programs checked against an independent model);
# known heap dumps are hand-written or from gendump.py. The end-to-end tests trace a real
# program through BRISK_OPTIONS=trace=FILE and heapmap=FILE. About 30 s on 2 cores.

INS=$T/insight
INS_SRC=$ROOT/tests/insight
INS_PY=/usr/bin/python3
[ -x "$INS_PY" ] || INS_PY=python3
BRISK_CMD=$BUILD/brisk
INS_REPLAY=$BUILD/brisk-replay
mkdir -p "$INS"
export INS INS_SRC INS_PY BRISK_CMD INS_REPLAY

# rsvg-convert draws the PNGs (Debian: librsvg2-bin). The tests that need it fail, not skip,
# when it could not be installed.
if ! command -v rsvg-convert >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing librsvg2-bin (rsvg-convert) for the insight tests"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq --no-install-recommends librsvg2-bin ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends librsvg2-bin; }; } \
        >"$INS/apt.log" 2>&1
fi

build insight_tools make -s -C "$ROOT" BUILD="$BUILD" insight
build insight_prog gcc $CFLAGS_T -pthread "$INS_SRC/traced_prog.c" -o "$T/insight_prog"
build insight_badcalloc gcc -O1 -g -Wall -Wextra -fPIC -shared "$INS_SRC/badcalloc.c" \
    -o "$T/libinsight_badcalloc.so"
# the traces: hand-made; two 8-thread programs; one with threads coming and going (24 in all)
ins_gen() {
    "$INS_PY" "$INS_SRC/gentrace.py" basic "$INS/basic.trace" || return 1
    "$INS_PY" "$INS_SRC/gentrace.py" random "$INS/r1.trace" --seed 1 --calls 30000 || return 1
    "$INS_PY" "$INS_SRC/gentrace.py" random "$INS/r2.trace" --seed 2 --calls 30000 || return 1
    "$INS_PY" "$INS_SRC/gentrace.py" random "$INS/r3.trace" --seed 3 --calls 40000 --threads 24
}
build insight_traces ins_gen

# the figure of FILE.expect.json at KEY
ins_expect() {
    "$INS_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$1.expect.json" "$2"
}
export -f ins_expect

t_ins_summary() { # TRACE: the summary's JSON against gentrace's figures, and the text report
    local tr=$INS/$1.trace
    "$BRISK_CMD" trace summary --json "$tr" >"$INS/$1.sum.json" || return 1
    "$INS_PY" "$INS_SRC/check_summary.py" "$tr.expect.json" "$INS/$1.sum.json" || return 1
    "$BRISK_CMD" trace summary "$tr" >"$INS/$1.sum.txt" || return 1
    local peak calls
    peak=$("$INS_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["peak_live"]["bytes"])' \
        "$tr.expect.json")
    calls=$(ins_expect "$tr" calls)
    grep -q "^peak live: $peak bytes" "$INS/$1.sum.txt" && grep -q "^calls: $calls\$" "$INS/$1.sum.txt" || {
        echo "the text report does not say 'peak live: $peak bytes' and 'calls: $calls':"
        cat "$INS/$1.sum.txt"
        return 1
    }
}
export -f t_ins_summary

t_ins_summary_errors() { # damaged input: a message and exit 2, never a crash or a silent 0
    local d=$INS/bad rc out
    mkdir -p "$d"
    "$INS_PY" - "$d" <<'EOF'
import struct, sys
d = sys.argv[1]
head = lambda: struct.pack("<8sIIIIQ32s", b"BRISKTR1", 1, 64, 40, 7, 0, bytes(32))
open(f"{d}/magic", "wb").write(b"NOTATRACE" + bytes(100))
open(f"{d}/short", "wb").write(b"BRISKTR1")
open(f"{d}/empty", "wb").write(head())
open(f"{d}/thread", "wb").write(head() + struct.pack("<B3xIQQQQ", 1, 1 << 30, 5, 16, 0x1000, 0))
open(f"{d}/record", "wb").write(struct.pack("<8sIIIIQ32s", b"BRISKTR1", 1, 64, 8, 7, 0, bytes(32)))
EOF
    for f in magic:"not a brisk trace" short:"too short" thread:"out of range" \
             record:"bad header" missing:"No such file"; do
        out=$("$BRISK_CMD" trace summary "$d/${f%%:*}" 2>&1)
        rc=$?
        if [ $rc -ne 2 ] || ! grep -q "${f#*:}" <<<"$out"; then
            echo "${f%%:*}: exit $rc, '$out' (expected 2 and '${f#*:}')"
            return 1
        fi
    done
    out=$("$BRISK_CMD" trace summary --json "$d/empty") || { echo "header-only trace: $out"; return 1; }
    grep -q '"calls":0' <<<"$out" || { echo "header-only trace: $out"; return 1; }
    echo "bad traces refused with a message; an empty one summarised"
}
export -f t_ins_summary_errors

t_ins_replay() { # TRACE glibc|brisk: prep, replay, every check passed, every op made
    local tr=$INS/$1.trace ops=$INS/$1.$2.ops out want
    "$INS_REPLAY" prep "$tr" "$ops" || return 1
    if [ "$2" = glibc ]; then
        out=$(env -u LD_PRELOAD "$INS_REPLAY" run "$ops") || { echo "$out"; return 1; }
    else
        out=$(LD_PRELOAD=$LIB "$INS_REPLAY" run "$ops") || { echo "$out"; return 1; }
    fi
    echo "$out"
    want=$(ins_expect "$tr" replay_ops)
    grep -q " ops=$want " <<<"$out" && grep -q " errors=0\$" <<<"$out" || {
        echo "expected ops=$want and errors=0"
        return 1
    }
}
export -f t_ins_replay

t_ins_replay_catches() { # a calloc that does not zero is caught: the checks check
    "$INS_REPLAY" prep "$INS/basic.trace" "$INS/bad.ops" >/dev/null || return 1
    local out rc
    out=$(LD_PRELOAD=$T/libinsight_badcalloc.so "$INS_REPLAY" run "$INS/bad.ops" 2>&1)
    rc=$?
    echo "$out"
    [ $rc -eq 1 ] && grep -q "calloc's memory is not zero" <<<"$out" && grep -q " errors=1" <<<"$out"
}
export -f t_ins_replay_catches

t_ins_launcher() { # brisk trace replay: the table, --json, the timeline and the heap dumps
    local tr=$INS/r1.trace out
    out=$("$BRISK_CMD" trace replay "$tr" --runs 2 --lib glibc --timeline "$INS/r1.csv" \
        --heapmap-at 1000,29000 --heapmap-prefix "$INS/r1.hm") || { echo "$out"; return 1; }
    echo "$out"
    grep -Eq '^glibc +[0-9.]+ +[0-9.]+ +1\.00 +1\.00$' <<<"$out" &&
        grep -Eq '^brisk +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$' <<<"$out" || {
        echo "no table rows for glibc and brisk"
        return 1
    }
    REQUIRE_COMMITTED=1 "$INS_PY" "$INS_SRC/check_timeline.py" "$tr.expect.json" "$INS/r1.csv" 60 ||
        return 1
    local n
    for n in 1000 29000; do
        "$BRISK_CMD" heapmap "$INS/r1.hm.$n.jsonl" -o "$INS/r1.hm.$n.svg" &&
            "$INS_PY" "$INS_SRC/check_svg.py" heapmap "$INS/r1.hm.$n.svg" "$INS/r1.hm.$n.jsonl" ||
            return 1
    done
    out=$("$BRISK_CMD" trace replay "$INS/basic.trace" --runs 1 --json --timeline "$INS/b.csv" \
        --timeline-every 3) || { echo "$out"; return 1; }
    "$INS_PY" -c 'import json,sys; r=json.loads(sys.argv[1]); assert [x["allocator"] for x in r] == ["glibc","brisk"] and all(x["failed"] == 0 and x["ops"] == 14 for x in r), r' "$out" ||
        return 1
    "$INS_PY" "$INS_SRC/check_timeline.py" "$INS/basic.trace.expect.json" "$INS/b.csv" 3
}
export -f t_ins_launcher

t_ins_launcher_errors() { # bad arguments say so; `brisk run` and --help as before
    local args rc out
    for args in "--runs 0" "--lib /nonexistent/libx.so" "--frobnicate" ""; do
        # shellcheck disable=SC2086
        out=$("$BRISK_CMD" trace replay $args ${args:+"$INS/basic.trace"} 2>&1)
        rc=$?
        [ $rc -eq 2 ] && grep -q "^brisk: trace replay" <<<"$out" || {
            echo "'brisk trace replay $args': exit $rc, '$out'"
            return 1
        }
    done
    out=$(BRISK_OPTIONS=purge_delay_ms=100 "$BRISK_CMD" run --stats -- /bin/echo hello 2>&1) || return 1
    grep -q '^hello$' <<<"$out" && grep -q '^brisk: stats' <<<"$out" || { echo "$out"; return 1; }
    out=$("$BRISK_CMD" --help) || return 1
    for args in "trace summary" "trace replay" heapmap timeline "run "; do
        grep -q "$args" <<<"$out" || { echo "--help does not mention '$args'"; return 1; }
    done
    echo "bad arguments refused; run and --help fine"
}
export -f t_ins_launcher_errors

t_ins_heapmap() { # hand-written and generated dumps: the SVG's content, the PNG rsvg draws
    command -v rsvg-convert >/dev/null || { echo "rsvg-convert missing (apt-get install librsvg2-bin failed)"; return 1; }
    local d=$INS_SRC/dump_small.jsonl h1 h40
    "$BRISK_CMD" heapmap "$d" -o "$INS/small.svg" && "$BRISK_CMD" heapmap "$d" -o "$INS/small.png" ||
        return 1
    "$INS_PY" "$INS_SRC/check_svg.py" heapmap "$INS/small.svg" "$d" &&
        "$INS_PY" "$INS_SRC/check_svg.py" png "$INS/small.png" "$INS/small.svg" || return 1
    for n in 1 40; do
        "$INS_PY" "$INS_SRC/gendump.py" $n "$INS/gen$n.jsonl" &&
            "$BRISK_CMD" heapmap "$INS/gen$n.jsonl" -o "$INS/gen$n.svg" &&
            "$INS_PY" "$INS_SRC/check_svg.py" heapmap "$INS/gen$n.svg" "$INS/gen$n.jsonl" &&
            rsvg-convert "$INS/gen$n.svg" -o "$INS/gen$n.png" &&
            "$INS_PY" "$INS_SRC/check_svg.py" png "$INS/gen$n.png" "$INS/gen$n.svg" || return 1
    done
    h1=$(grep -o 'height="[0-9]*"' "$INS/gen1.svg" | head -1 | tr -dc 0-9)
    h40=$(grep -o 'height="[0-9]*"' "$INS/gen40.svg" | head -1 | tr -dc 0-9)
    [ $((h40 - h1)) -eq $((39 * 16)) ] || { echo "40 segments: $h40 px high, 1 segment: $h1 px (expected 39 rows of 16 px more)"; return 1; }
}
export -f t_ins_heapmap

t_ins_picture_errors() { # damaged dumps and CSVs: a message and exit 2
    local d=$INS/badpic rc out
    mkdir -p "$d"
    printf '{"type":"process"}\nnot json\n' >"$d/notjson.jsonl"
    printf '{"type":"segment","addr":"0x1","heap":0,"state":"owned"}\n{"type":"page","segment":"0x1","slot":1}\n' >"$d/field.jsonl"
    printf 'record,time_ns\n' >"$d/empty.csv"
    for f in notjson.jsonl:"not JSON" field.jsonl:"lacks a field" empty.csv:"no rows"; do
        case $f in *.csv:*) out=$("$BRISK_CMD" timeline "$d/${f%%:*}" 2>&1) ;;
                   *) out=$("$BRISK_CMD" heapmap "$d/${f%%:*}" 2>&1) ;; esac
        rc=$?
        [ $rc -eq 2 ] && grep -q "${f#*:}" <<<"$out" || { echo "${f%%:*}: exit $rc, '$out'"; return 1; }
    done
    echo "damaged inputs refused with a message"
}
export -f t_ins_picture_errors

t_ins_timeline() { # a replay's timeline under brisk drawn: a line per series, a point per row
    command -v rsvg-convert >/dev/null || { echo "rsvg-convert missing (apt-get install librsvg2-bin failed)"; return 1; }
    "$INS_REPLAY" prep --ordered "$INS/r2.trace" "$INS/r2.tl.ops" >/dev/null &&
        LD_PRELOAD=$LIB "$INS_REPLAY" run "$INS/r2.tl.ops" --timeline "$INS/r2.csv" &&
        REQUIRE_COMMITTED=1 "$INS_PY" "$INS_SRC/check_timeline.py" "$INS/r2.trace.expect.json" "$INS/r2.csv" &&
        "$BRISK_CMD" timeline "$INS/r2.csv" -o "$INS/r2.svg" &&
        "$BRISK_CMD" timeline "$INS/r2.csv" -o "$INS/r2.png" &&
        "$INS_PY" "$INS_SRC/check_svg.py" timeline "$INS/r2.svg" "$INS/r2.csv" &&
        "$INS_PY" "$INS_SRC/check_svg.py" png "$INS/r2.png" "$INS/r2.svg"
}
export -f t_ins_timeline

t_ins_e2e_trace() { # a real program traced by brisk: the summary counts what it did
    local m
    for m in base work; do
        BRISK_OPTIONS=trace=$INS/prog_$m.trace LD_PRELOAD=$LIB "$T/insight_prog" $m || return 1
        "$BRISK_CMD" trace summary --json "$INS/prog_$m.trace" >"$INS/prog_$m.json" || return 1
    done
    "$T/insight_prog" expected >"$INS/prog_expected.json" &&
        "$INS_PY" "$INS_SRC/e2e_check.py" "$INS/prog_expected.json" "$INS/prog_base.json" \
            "$INS/prog_work.json" || return 1
    # and it replays under glibc and brisk with every check passing
    "$BRISK_CMD" trace replay "$INS/prog_work.trace" --runs 1
}
export -f t_ins_e2e_trace

t_ins_e2e_heapmap() { # heapmap=FILE: python's heap mid-run (SIGUSR2) and at exit, drawn
    command -v rsvg-convert >/dev/null || { echo "rsvg-convert missing (apt-get install librsvg2-bin failed)"; return 1; }
    local dump=$INS/py.heap f
    rm -f "$dump" "$dump".*
    BRISK_OPTIONS=heapmap=$dump PYTHONMALLOC=malloc LD_PRELOAD=$LIB "$INS_PY" -c '
import os, signal
keep = [bytes(i % 3000) for i in range(40000)] + [bytearray(1 << 20) for _ in range(3)]
del keep[::3]
os.kill(os.getpid(), signal.SIGUSR2)        # brisk dumps at its next slow path
more = [bytes(i % 5000) for i in range(20000)]
' || return 1
    [ -s "$dump" ] && [ -s "$dump.1" ] || { echo "expected dumps $dump.1 (SIGUSR2) and $dump (exit)"; ls "$INS"; return 1; }
    # mid-run, the kept blocks are live: about 40 MB of bytes objects and 2 large bytearrays
    "$INS_PY" -c 'import json,sys; s=[json.loads(l) for l in open(sys.argv[1])][-1]; assert s["type"] == "stats" and s["live_bytes"] > 30e6 and s["large_live"] >= 2, s' "$dump.1" ||
        return 1
    for f in "$dump.1" "$dump"; do
        "$BRISK_CMD" heapmap "$f" -o "$f.svg" && "$BRISK_CMD" heapmap "$f" -o "$f.png" &&
            "$INS_PY" "$INS_SRC/check_svg.py" heapmap "$f.svg" "$f" &&
            "$INS_PY" "$INS_SRC/check_svg.py" png "$f.png" "$f.svg" || return 1
    done
}
export -f t_ins_e2e_heapmap

run insight_summary_basic "insight_tools insight_traces" bash -c "t_ins_summary basic"
for s in r1 r2 r3; do
    run "insight_summary_$s" "insight_tools insight_traces" bash -c "t_ins_summary $s"
done
run insight_summary_errors "insight_tools" bash -c t_ins_summary_errors
for a in glibc brisk; do
    for s in basic r1 r3; do
        run "insight_replay_${s}_$a" "insight_tools insight_traces" bash -c "t_ins_replay $s $a"
    done
done
run insight_replay_catches "insight_tools insight_traces insight_badcalloc" bash -c t_ins_replay_catches
run insight_launcher "insight_tools insight_traces" bash -c t_ins_launcher
run insight_launcher_errors "insight_tools insight_traces" bash -c t_ins_launcher_errors
run insight_heapmap "insight_tools" bash -c t_ins_heapmap
run insight_picture_errors "insight_tools" bash -c t_ins_picture_errors
run insight_timeline "insight_tools insight_traces" bash -c t_ins_timeline
run insight_e2e_trace "insight_tools insight_prog" bash -c t_ins_e2e_trace
run insight_e2e_heapmap "insight_tools" bash -c t_ins_e2e_heapmap
