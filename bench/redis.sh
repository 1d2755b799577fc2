#!/usr/bin/env bash
# A real server: redis-server (Debian's) under the allocator in $BENCH_PRELOAD (none: glibc),
# driven by redis-benchmark on 127.0.0.1.
#
#   redis.sh REQUESTS [CLIENTS]
#
# Starts the server on a free port with no persistence, runs a bounded redis-benchmark
# (REQUESTS per test, CLIENTS connections, default 50, random keys, 256-byte values, pipelines of
# 16), writes 400 keys of known values and reads them back, and shuts the server down. The
# client tools run without any preload: only the server is measured. Prints "ok ...", then
# "wall_seconds S" (the benchmark's own wall time) and "peak_rss_kb K" (the server's VmHWM just
# before shutdown), which bench/run.sh takes in place of its own measurements of this script.
# Exits non-zero if the server fails to start, returns a wrong value or does not exit cleanly.
set -euo pipefail

requests=${1:?usage: redis.sh REQUESTS [CLIENTS]}
clients=${2:-50}
preload=${BENCH_PRELOAD:-}
unset LD_PRELOAD
dir=$(mktemp -d /tmp/brisk-redis.XXXXXX)
pid=
cleanup() {
    [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "redis: $*" >&2
    [ ! -s "$dir/log" ] || tail -n 20 "$dir/log" >&2
    exit 1
}

# A free port: one nothing answers on; if the server still cannot bind it, another one.
for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + (RANDOM * 7 + $$ + attempt * 131) % 40000))
    if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    env ${preload:+LD_PRELOAD=$preload} redis-server --port "$port" --bind 127.0.0.1 \
        --save '' --appendonly no --daemonize no --dir "$dir" --logfile "$dir/log" &
    pid=$!
    for _ in $(seq 200); do
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break 2
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    wait "$pid" 2>/dev/null || true
    pid=
    grep -q 'Address already in use' "$dir/log" 2>/dev/null || fail "the server did not start"
done
[ -n "$pid" ] || fail "no free port found"

start=$(date +%s%N)
redis-benchmark -h 127.0.0.1 -p "$port" -n "$requests" -c "$clients" -P 16 -r 200000 -d 256 -q \
    -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset \
    >"$dir/bench.out" 2>&1 || fail "redis-benchmark failed: $(tail -n 3 "$dir/bench.out")"
end=$(date +%s%N)
tests=$(tr '\r' '\n' <"$dir/bench.out" | grep -c 'requests per second' || true)
[ "$tests" -ge 14 ] || fail "redis-benchmark finished $tests of 14 tests: $(tail -c 300 "$dir/bench.out")"

# The server must still hold what it was given: 400 keys of 1..2000 bytes, read back.
value() { printf "v%d-%0$(($1 * 37 % 2000 + 1))d" "$1" 0; }
args=()
for i in $(seq 400); do args+=("check:$i" "$(value "$i")"); done
[ "$(redis-cli -p "$port" mset "${args[@]}")" = OK ] || fail "MSET failed"
keys=()
for i in $(seq 400); do keys+=("check:$i"); done
got=$(redis-cli -p "$port" --raw mget "${keys[@]}" | sha256sum)
want=$(for i in $(seq 400); do value "$i"; echo; done | sha256sum)
[ "$got" = "$want" ] || fail "MGET did not return the values written"
[ "$(redis-cli -p "$port" dbsize)" -gt 400 ] || fail "DBSIZE is too small after the benchmark"

hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
rc=0
wait "$pid" || rc=$?
pid=
[ $rc = 0 ] || fail "the server exited with status $rc"
echo "ok redis: $tests tests of $requests requests, 400 keys read back intact"
awk -v s="$start" -v e="$end" 'BEGIN { printf "wall_seconds %.4f\n", (e - s) / 1e9 }'
echo "peak_rss_kb $hwm"
