"""The hand-made trace: two threads, every op, and each oddity a reader must survive.

Figures below were worked out by hand from the table (call numbers c0.. count calls only,
not the thread exit); gentrace.py checks that oracle.py agrees before writing the trace.
"""

from oracle import MALLOC, FREE, CALLOC, REALLOC, ALIGNED, THREAD_EXIT

RECORDS = [
    # op        thr  time    size      ptr      arg        call  live after
    (MALLOC,    0,  1000,   100,      0x1000,  0),        # c0   100
    (CALLOC,    0,  2000,   40,       0x2000,  4),        # c1   140   (4 x 10)
    (MALLOC,    1,  3000,   5000,     0x10000, 0),        # c2   5140
    (REALLOC,   0,  4000,   200,      0x1000,  0x1000),   # c3   5240  in place: 0x1000 lived 3 calls
    (FREE,      1,  5000,   0,        0x2000,  0),        # c4   5200  cross-thread; lived 3
    (ALIGNED,   0,  6000,   64,       0x3000,  4096),     # c5   5264
    (REALLOC,   1,  7000,   10000,    0x20000, 0x10000),  # c6   10264 PEAK (3 blocks); 0x10000 lived 4
    (REALLOC,   0,  8000,   0,        0,       0x3000),   # c7   10200 realloc(p, 0) frees; lived 2
    (REALLOC,   1,  9000,   16,       0x4000,  0),        # c8   10216 realloc(NULL, 16)
    (FREE,      0,  10000,  0,        0x9999000, 0),      # c9   10216 unmatched free
    (MALLOC,    0,  11000,  1 << 40,  0,       0),        # c10  10216 failed
    (FREE,      1,  12000,  0,        0x20000, 0),        # c11  216   lived 5
    (THREAD_EXIT, 1, 13000, 0,        0,       0),        # --
    (MALLOC,    0,  14000,  0,        0x5000,  0),        # c12  216   malloc(0)
    (FREE,      0,  15000,  0,        0x1000,  0),        # c13  16    lived 10 (since c3)
    (MALLOC,    0,  16000,  300,      0x4000,  0),        # c14  300   0x4000 still live: reused
]

# How the recorder might have written them: per-thread chunks, out of time order. Record
# numbers are 1-based rows of RECORDS. Three runs in time order: [3 5 7], [1 2 4 6 9 12 13],
# [8 10 11 14 15 16].
FILE_ORDER = [[3, 5, 7], [1, 2, 4, 6], [9, 12, 13], [8, 10, 11, 14, 15, 16]]
# a partial record at the end, as a program killed while writing leaves it
TRAILING = b"\x01" * 20

EXPECT = {
    "records": 16,
    "calls": 15,
    "duration_ns": 15000,
    "ops": {"malloc": 5, "free": 4, "calloc": 1, "realloc": 4, "aligned": 1, "thread_exit": 1},
    "failed": 1,
    "realloc_null": 1,
    "realloc_free": 1,
    "threads": {"count": 2, "exited": 1, "per_thread": [
        # frees count the blocks a thread ended: free, realloc's old block, realloc(p, 0)
        {"thread": 0, "calls": 10, "allocs": 6, "frees": 3, "cross_frees": 0, "exited": False},
        {"thread": 1, "calls": 5, "allocs": 3, "frees": 3, "cross_frees": 1, "exited": True},
    ]},
    "allocated": {"blocks": 9, "bytes": 15720},
    "sizes": [
        {"lo": 0, "hi": 0, "count": 1, "bytes": 0},
        {"lo": 16, "hi": 31, "count": 1, "bytes": 16},
        {"lo": 32, "hi": 63, "count": 1, "bytes": 40},
        {"lo": 64, "hi": 127, "count": 2, "bytes": 164},
        {"lo": 128, "hi": 255, "count": 1, "bytes": 200},
        {"lo": 256, "hi": 511, "count": 1, "bytes": 300},
        {"lo": 4096, "hi": 8191, "count": 1, "bytes": 5000},
        {"lo": 8192, "hi": 16383, "count": 1, "bytes": 10000},
    ],
    # lifetimes in calls 3, 3, 4, 2, 5, 10; in ns 3000, 3000, 4000, 2000, 5000, 11000
    "lifetimes": {
        "ended": 6,
        "calls": {"median": 3, "p90": 10, "max": 10},
        "ns": {"median": 3000, "p90": 11000, "max": 11000},
        "never_freed": {"blocks": 2, "bytes": 300},
    },
    "peak_live": {"bytes": 10264, "blocks": 3, "time_ns": 7000, "call": 7},
    "busiest": {"window_ns": 10_000_000, "calls": 15, "start_ns": 1000},
    "unmatched": {"frees": 1, "reallocs": 0, "reused_live": 1},
    # 15 calls, less the failed malloc and the unmatched free, plus the free a replay makes
    # before 0x4000 comes back
    "replay_ops": 14,
    # live bytes after each record: the column "live after" above (the thread exit changes
    # nothing)
    "live_after": [100, 140, 5140, 5240, 5200, 5264, 10264, 10200, 10216, 10216, 10216, 216, 216,
                   216, 16, 300],
}
