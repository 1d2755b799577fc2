# The large-block cache: split and joined mappings keep content apart, realloc and calloc over
# reused pages, misuse of split blocks caught (tests/large_reuse.c). purge_delay_ms high: no idle
# flush may empty the cache between two calls on a loaded machine.
cc_so large_reuse large_reuse.c
for t in split join churn misuse trim shed; do
    run "large_reuse:$t" "large_reuse" env BRISK_OPTIONS=purge_delay_ms=10000 "$T/large_reuse" "$t"
done

# Free memory stays for reuse until fresh memory is needed, then gives way (tests/shed.c); the
# same under extents=0, where the big blocks are class pages. purge_delay_ms high: only ticks by
# volume decide.
cc_so shed shed.c -lpthread
for t in reuse fresh adopt refill gap spans; do
    run "shed:$t" "shed" env BRISK_OPTIONS=purge_delay_ms=10000 "$T/shed" "$t"
    run "shed:${t}_noext" "shed" env BRISK_OPTIONS=purge_delay_ms=10000,extents=0 "$T/shed" "$t"
done
# Timed ticks keep what recent bursts of extents took again (a tick every 50 ms).
run "shed:burst" "shed" env BRISK_OPTIONS=purge_delay_ms=100 "$T/shed" burst
