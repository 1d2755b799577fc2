# Unit tests of brisk's internals, built straight from src/ (sourced by tests/run.sh).
build size_class gcc -O1 -g -Wall -Wextra -D_GNU_SOURCE -I"$ROOT/src" -I"$ROOT/include" \
    "$ROOT/tests/size_class.c" "$ROOT/src/size_class.c" -o "$T/size_class"
run size_class "size_class" "$T/size_class"
build divc gcc -O2 -g -Wall -Wextra -D_GNU_SOURCE -I"$ROOT/src" -I"$ROOT/include" \
    "$ROOT/tests/divc.c" "$ROOT/src/size_class.c" -o "$T/divc"
run divc "divc" "$T/divc"

# realloc in place, both modes: no kept byte changes (secure mode rewrites the canary)
cc_so realloc_steps realloc_steps.c
run realloc_steps "realloc_steps" "$T/realloc_steps"
run realloc_steps_secure "realloc_steps" env BRISK_OPTIONS=secure=1 "$T/realloc_steps"

# aligned blocks under a lowered mmap threshold (mallopt), both modes
cc_so aligned_threshold aligned_threshold.c
run aligned_threshold "aligned_threshold" "$T/aligned_threshold"
run aligned_threshold_secure "aligned_threshold" env BRISK_OPTIONS=secure=1 "$T/aligned_threshold"

# statistics (per class, JSON, peak), heap dumps and mallopt's M_MMAP_THRESHOLD
cc_so stats stats.c
run stats "stats" "$T/stats"
run stats_secure "stats" env BRISK_OPTIONS=secure=1 "$T/stats"

# BRISK_OPTIONS=trace=FILE: the known calls of `stats traced` are in the trace, each exactly once
t_trace_counts() {
    local tr=$T/traced.trace
    rm -f "$tr"
    BRISK_OPTIONS=trace=$tr "$T/stats" traced || return 1
    python3 - "$tr" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'BRISKTR1', 'magic'
ver, hsz, rsz = struct.unpack_from('<III', d, 8)
assert (ver, hsz, rsz) == (1, 64, 40), (ver, hsz, rsz)
assert (len(d) - 64) % 40 == 0, 'whole records'
n = {}
for i in range(64, len(d), 40):
    op, th, t, size, ptr, arg = struct.unpack_from('<B3xIQQQQ', d, i)
    key = (op, size, arg)
    n[key] = n.get(key, 0) + 1
want = {(1, 7777, 0): 100, (3, 3 * 2591, 3): 50, (5, 5555, 4096): 10}
for k, v in want.items():
    assert n.get(k, 0) == v, f'{k}: {n.get(k, 0)} records, want {v}'
reallocs = sum(v for (op, size, arg), v in n.items() if op == 4 and size == 9999)
assert reallocs == 25, f'{reallocs} reallocs to 9999, want 25'
frees = sum(v for (op, size, arg), v in n.items() if op == 2)
assert frees >= 160, f'{frees} frees, want >= 160'
print('trace ok:', sum(n.values()), 'records')
PY
}
export -f t_trace_counts
run trace_counts "stats" bash -c t_trace_counts

# another thread's free writes the block and the page's thread_free word, not the page struct
build remote_lines gcc $CFLAGS_T -I"$ROOT/src" "$ROOT/tests/remote_lines.c" -o "$T/remote_lines" $LINK_SO
run remote_lines "remote_lines" "$T/remote_lines"

# a page made on a slot another page had carved: the rest of the slot goes at the timed tick
# and at malloc_trim
build purge_tail gcc $CFLAGS_T -I"$ROOT/src" "$ROOT/tests/purge_tail.c" -o "$T/purge_tail" $LINK_SO
run purge_tail_tick "purge_tail" env BRISK_OPTIONS=purge_delay_ms=20 "$T/purge_tail" tick
run purge_tail_trim "purge_tail" "$T/purge_tail" trim

# other threads' frees wait while the owner has its own to take, at most 32 dry mallocs
build remote_wait gcc $CFLAGS_T -I"$ROOT/src" "$ROOT/tests/remote_wait.c" -o "$T/remote_wait" $LINK_SO
run remote_wait "remote_wait" "$T/remote_wait"

# two frees of one block by other threads while its page is full: the second is a double free
cc_so double_remote double_remote.c -lpthread
run double_remote "double_remote" "$T/double_remote"
