# Extents (src/extent.c): big blocks carved from shared spans and coalesced on free
# (tests/extent.c). purge_delay_ms high: the layout tests must not see a tick purge or release a
# span between two calls on a loaded machine; `calloc` and `trim` use malloc_trim for that.
cc_so extent extent.c
for t in coalesce sizes threads double calloc realloc trim lend stale aligned cache cache_joins; do
    run "extent:$t" "extent" env BRISK_OPTIONS=purge_delay_ms=10000 "$T/extent" "$t"
done
# freed blocks joined at once, without the extent cache: the layout as carving and coalescing make it
run "extent:nocache" "extent" env BRISK_OPTIONS=purge_delay_ms=10000,extent_cache=0 "$T/extent"

# the same blocks from the size classes: everything but the layout holds there too
run "extent:off" "extent" env BRISK_OPTIONS=extents=0 "$T/extent"
run "extent:secure" "extent" env BRISK_OPTIONS=secure=1 "$T/extent"
# the review's cases (tests/extent_review.c): a bounded multi-thread stress with orphans and
# adoption, fork under load, misuse in a child each, mallopt, calloc under mlockall, heap dumps
cc_so extent_review extent_review.c
for t in stress fork misuse mallopt mlock dump; do
    run "extent_review:$t" "extent_review" env BRISK_OPTIONS=purge_delay_ms=10000 "$T/extent_review" "$t"
done
run "extent_review:churn" "extent_review" env BRISK_OPTIONS=purge_delay_ms=0 "$T/extent_review" stress fork
run "extent_review:off" "extent_review" env BRISK_OPTIONS=extents=0 "$T/extent_review"
