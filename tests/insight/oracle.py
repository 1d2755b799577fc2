"""What `brisk trace summary` must say about a list of trace records, computed the plain way.

The records come in time order (the generator makes them so); the rules are those of
docs/insight.md. This is an independent model for the tests: everything in memory, exact
quantiles by sorting, the busiest window by brute force over the call times.
"""

import bisect
import math

MALLOC, FREE, CALLOC, REALLOC, ALIGNED, THREAD_EXIT = 1, 2, 3, 4, 5, 6
OP_NAMES = {MALLOC: "malloc", FREE: "free", CALLOC: "calloc", REALLOC: "realloc",
            ALIGNED: "aligned", THREAD_EXIT: "thread_exit"}
WINDOW_NS = 10_000_000


def nearest_rank(values, q):
    if not values:
        return 0
    v = sorted(values)
    return v[max(1, math.ceil(q * len(v))) - 1]


def size_bucket(size):
    """(lo, hi) of the power-of-two bucket of SIZE; (0, 0) for 0."""
    if size == 0:
        return (0, 0)
    k = size.bit_length() - 1
    return (1 << k, (1 << (k + 1)) - 1)


class Model:
    def __init__(self):
        self.ops = {name: 0 for name in OP_NAMES.values()}
        self.calls = 0
        self.failed = self.realloc_null = self.realloc_free = 0
        self.unmatched_frees = self.unmatched_reallocs = self.reused_live = 0
        self.threads = {}   # id -> dict(calls, allocs, frees, cross_frees, exited)
        self.sizes = {}     # (lo, hi) -> [count, bytes]
        self.live = {}      # ptr -> (size, time, call, thread)
        self.live_bytes = 0
        self.peak = (0, 0, 0, 0)   # bytes, blocks, time, call
        self.life_calls, self.life_ns = [], []
        self.call_times = []
        self.replay_ops = 0        # operations a replay performs (see replay_prep.c)
        self.times = []
        self.live_after = []       # live bytes after each record (a replay's timeline)

    def thread(self, tid):
        return self.threads.setdefault(
            tid, dict(calls=0, allocs=0, frees=0, cross_frees=0, exited=False))

    def end(self, ptr, op, tid, time):
        b = self.live.pop(ptr, None)
        if b is None:
            if op == REALLOC:
                self.unmatched_reallocs += 1
            else:
                self.unmatched_frees += 1
            return False
        size, t0, c0, owner = b
        self.live_bytes -= size
        th = self.thread(tid)
        th["frees"] += 1
        if owner != tid:
            th["cross_frees"] += 1
        self.life_calls.append(self.calls - 1 - c0)
        self.life_ns.append(time - t0)
        return True

    def start(self, ptr, size, tid, time):
        if ptr in self.live:
            self.reused_live += 1
            self.replay_ops += 1   # the replay frees the old block first
            old = self.live.pop(ptr)
            self.live_bytes -= old[0]
        self.live[ptr] = (size, time, self.calls - 1, tid)
        self.live_bytes += size
        b = self.sizes.setdefault(size_bucket(size), [0, 0])
        b[0] += 1
        b[1] += size
        self.thread(tid)["allocs"] += 1

    def record(self, op, tid, time, size, ptr, arg):
        self.call(op, tid, time, size, ptr, arg)
        self.live_after.append(self.live_bytes)

    def call(self, op, tid, time, size, ptr, arg):
        self.times.append(time)
        if op == THREAD_EXIT:
            self.ops["thread_exit"] += 1
            self.thread(tid)["exited"] = True
            return
        self.ops[OP_NAMES[op]] += 1
        self.calls += 1
        self.thread(tid)["calls"] += 1
        self.call_times.append(time)
        if op in (MALLOC, CALLOC, ALIGNED) or (op == REALLOC and arg == 0):
            if op == REALLOC:
                self.realloc_null += 1
            if ptr:
                self.start(ptr, size, tid, time)
                self.replay_ops += 1
            else:
                self.failed += 1
        elif op == FREE:
            self.replay_ops += self.end(ptr, op, tid, time)
        elif ptr == 0 and size == 0:
            self.realloc_free += 1
            self.replay_ops += self.end(arg, op, tid, time)
        elif ptr == 0:
            self.failed += 1
        else:
            self.end(arg, op, tid, time)
            self.start(ptr, size, tid, time)
            self.replay_ops += 1
        if self.live_bytes > self.peak[0]:
            self.peak = (self.live_bytes, len(self.live), time, self.calls)

    def busiest(self):
        best, start = 0, 0
        for i, t in enumerate(self.call_times):
            lo = bisect.bisect_right(self.call_times, t - WINDOW_NS, 0, i + 1)
            if i + 1 - lo > best:
                best, start = i + 1 - lo, self.call_times[lo]
        return best, start

    def expected(self):
        """The summary's JSON fields that the tests compare."""
        busiest, start = self.busiest()
        sizes = [dict(lo=lo, hi=hi, count=c, bytes=b)
                 for (lo, hi), (c, b) in sorted(self.sizes.items())]
        per_thread = [dict(thread=t, **self.threads[t]) for t in sorted(self.threads)]
        return {
            "records": len(self.times),
            "calls": self.calls,
            "duration_ns": (self.times[-1] - self.times[0]) if self.times else 0,
            "ops": self.ops,
            "failed": self.failed,
            "realloc_null": self.realloc_null,
            "realloc_free": self.realloc_free,
            "threads": {"count": len(self.threads),
                        "exited": sum(1 for t in self.threads.values() if t["exited"]),
                        "per_thread": per_thread},
            "allocated": {"blocks": sum(c for c, _ in self.sizes.values()),
                          "bytes": sum(b for _, b in self.sizes.values())},
            "sizes": sizes,
            "lifetimes": {
                "ended": len(self.life_calls),
                "calls": {"median": nearest_rank(self.life_calls, 0.5),
                          "p90": nearest_rank(self.life_calls, 0.9),
                          "max": max(self.life_calls, default=0)},
                "ns": {"median": nearest_rank(self.life_ns, 0.5),
                       "p90": nearest_rank(self.life_ns, 0.9),
                       "max": max(self.life_ns, default=0)},
                "never_freed": {"blocks": len(self.live),
                                "bytes": sum(b[0] for b in self.live.values())},
            },
            "peak_live": {"bytes": self.peak[0], "blocks": self.peak[1],
                          "time_ns": self.peak[2], "call": self.peak[3]},
            "busiest": {"window_ns": WINDOW_NS, "calls": busiest, "start_ns": start},
            "unmatched": {"frees": self.unmatched_frees, "reallocs": self.unmatched_reallocs,
                          "reused_live": self.reused_live},
            "replay_ops": self.replay_ops,
            "live_after": self.live_after,
        }


def expect(records):
    """records: (op, thread, time, size, ptr, arg) tuples in time order."""
    m = Model()
    for r in records:
        m.record(*r)
    return m.expected()
