# Fault injection: brisk's N-th mapping call refused (BRISK_OPTIONS=test_fail_map=N), for every N
# the workload reaches; each run must end cleanly, and some runs must see a refusal.
cc_so mapfail mapfail.c
t_mapfail() {
    local n seen=0 out
    for n in $(seq 1 60); do
        out=$(BRISK_OPTIONS=test_fail_map=$n "$T/mapfail" 2>&1) || { echo "N=$n: $out"; return 1; }
        case $out in "0 calls"*) ;; *) seen=$((seen + 1)) ;; esac
    done
    echo "$seen of 60 runs saw a refused mapping"
    [ "$seen" -ge 5 ]
}
export -f t_mapfail
export T
run mapfail "mapfail" bash -c t_mapfail
