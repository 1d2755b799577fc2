#!/usr/bin/env python3
"""Writes known brisk traces (docs/trace-format.md) for the insight tests.

  gentrace.py basic OUT.trace           the hand-made trace of basic_expect.py
  gentrace.py random OUT.trace [--seed S] [--calls N] [--threads T]
                                        a simulated multi-threaded program

Each also writes OUT.trace.expect.json: what `brisk trace summary --json` must report, from
oracle.py (for `basic`, basic_expect.py holds the figures worked out by hand, and the oracle
must agree with them). Records are written the way the recorder does: each thread's records in
chunks, chunks of different threads interleaved, so the file is not in time order.
"""

import argparse
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
from oracle import MALLOC, FREE, CALLOC, REALLOC, ALIGNED, THREAD_EXIT  # noqa: E402

HEADER = struct.Struct("<8sIIIIQ32s")
RECORD = struct.Struct("<B3xIQQQQ")


def write_trace(path, chunks, pid=4242, start_ns=123456789, trailing=b""):
    """chunks: lists of records (op, thread, time, size, ptr, arg), written in this order."""
    with open(path, "wb") as f:
        f.write(HEADER.pack(b"BRISKTR1", 1, 64, 40, pid, start_ns, bytes(32)))
        for chunk in chunks:
            for op, tid, time, size, ptr, arg in chunk:
                f.write(RECORD.pack(op, tid, time, size, ptr, arg))
        f.write(trailing)


def basic():
    import basic_expect
    recs = basic_expect.RECORDS
    model = oracle.expect(recs)
    for key, want in basic_expect.EXPECT.items():
        if model[key] != want:
            sys.exit(f"gentrace: the oracle says {key}={model[key]!r}, worked out by hand: {want!r}")
    chunks = [[recs[i - 1] for i in chunk] for chunk in basic_expect.FILE_ORDER]
    return chunks, model, basic_expect.TRAILING


class Program:
    """A simulated program: threads that allocate, free, reallocate and hand blocks over."""

    def __init__(self, rng, calls, max_threads):
        self.rng = rng
        self.calls = calls
        self.max_threads = max_threads
        self.time = 1000
        self.records = []
        self.next_tid = 0
        self.active = []          # thread ids running now
        self.own = {}             # thread id -> list of its live pointers
        self.shared = []          # (ptr) handed to another thread, freed by whoever takes it
        self.sizes = {}           # live ptr -> size
        self.live_total = 0
        self.bump = 0x10_0000_0000
        self.freed = []           # addresses free for reuse
        self.buffers = {}         # thread id -> records not yet flushed
        self.chunks = []

    def emit(self, op, tid, size=0, ptr=0, arg=0):
        # mostly microseconds apart; sometimes a burst (1 ns apart), sometimes a pause
        r = self.rng.random()
        self.time += 1 if r < 0.15 else (25_000_000 if r < 0.152 else self.rng.randint(50, 3000))
        rec = (op, tid, self.time, size, ptr, arg)
        self.records.append(rec)
        buf = self.buffers.setdefault(tid, [])
        buf.append(rec)
        if self.rng.random() < 0.04:
            self.flush(tid)

    def flush(self, tid):
        if self.buffers.get(tid):
            self.chunks.append(self.buffers[tid])
            self.buffers[tid] = []

    def size(self):
        r = self.rng.random()
        if r < 0.02:
            return 0
        if r < 0.80:
            return self.rng.randint(1, 1024)
        if r < 0.995:
            return self.rng.randint(1025, 256 * 1024)
        return self.rng.randint(256 * 1024 + 1, 4 << 20)

    def address(self, size, align=16):
        live = self.sizes
        if self.freed and self.rng.random() < 0.5:
            i = self.rng.randrange(len(self.freed))
            a = self.freed[i]
            if a % align == 0 and a not in live:
                self.freed[i] = self.freed[-1]
                self.freed.pop()
                return a
        self.bump = (self.bump + align - 1) // align * align
        a = self.bump
        self.bump += (size + 15) // 16 * 16 + 16
        return a

    def born(self, tid, ptr, size):
        self.sizes[ptr] = size
        self.live_total += size
        self.own[tid].append(ptr)

    def take(self, lst):
        i = self.rng.randrange(len(lst))
        lst[i], lst[-1] = lst[-1], lst[i]
        return lst.pop()

    def gone(self, ptr):
        self.live_total -= self.sizes.pop(ptr)

    def die(self, ptr):
        self.gone(ptr)
        self.freed.append(ptr)

    def step(self, tid):
        own = self.own[tid]
        r = self.rng.random()
        if own and (r < 0.30 or self.live_total > (24 << 20)):
            p = self.take(own)
            self.emit(FREE, tid, ptr=p)
            self.die(p)
        elif self.shared and r < 0.40:
            p = self.take(self.shared)          # a cross-thread free, mostly
            self.emit(FREE, tid, ptr=p)
            self.die(p)
        elif own and r < 0.45:
            self.shared.append(self.take(own))  # hand a block over (no call)
        elif own and r < 0.58:
            self.realloc(tid)
        elif r < 0.64:
            n, sz = self.rng.randint(1, 8), self.rng.randint(1, 512)
            p = self.address(n * sz)
            self.emit(CALLOC, tid, size=n * sz, ptr=p, arg=n)
            self.born(tid, p, n * sz)
        elif r < 0.69:
            align = 1 << self.rng.randint(4, 13)
            sz = self.size()
            p = self.address(sz, align)
            self.emit(ALIGNED, tid, size=sz, ptr=p, arg=align)
            self.born(tid, p, sz)
        else:
            sz = self.size()
            p = self.address(sz)
            self.emit(MALLOC, tid, size=sz, ptr=p)
            self.born(tid, p, sz)

    def realloc(self, tid):
        own = self.own[tid]
        old = self.take(own)
        r = self.rng.random()
        if r < 0.05:                     # realloc(p, 0): frees
            self.emit(REALLOC, tid, size=0, ptr=0, arg=old)
            self.die(old)
            return
        sz = self.size() or 1
        if r < 0.35:                     # grows or shrinks in place
            self.gone(old)
            self.emit(REALLOC, tid, size=sz, ptr=old, arg=old)
            self.born(tid, old, sz)
            return
        new = self.address(sz)
        self.gone(old)
        self.emit(REALLOC, tid, size=sz, ptr=new, arg=old)
        self.freed.append(old)
        self.born(tid, new, sz)

    def oddities(self, tid):
        """The calls a reader must survive: failures, unmatched frees, a live address again."""
        self.emit(MALLOC, tid, size=1 << 45, ptr=0)
        self.emit(REALLOC, tid, size=0x30, ptr=self.address(0x30), arg=0)   # realloc(NULL, n)
        self.born(tid, self.records[-1][4], 0x30)
        self.emit(FREE, tid, ptr=0xDEAD_0000 + 16 * self.rng.randrange(1000))
        self.emit(REALLOC, tid, size=100, ptr=self.address(100), arg=0xBEEF_0000)
        self.born(tid, self.records[-1][4], 100)
        if self.own[tid]:
            old = self.own[tid][-1]
            self.emit(REALLOC, tid, size=1 << 44, ptr=0, arg=old)   # fails; old stays
        others = [p for t in self.active if t != tid for p in self.own[t]]
        if others:                       # an address handed out while live: a missed free
            p = self.rng.choice(others)
            for t in self.active:
                if p in self.own[t]:
                    self.own[t].remove(p)
            self.gone(p)
            self.emit(MALLOC, tid, size=64, ptr=p)
            self.born(tid, p, 64)

    def start_thread(self):
        tid = self.next_tid
        self.next_tid += 1
        self.active.append(tid)
        self.own[tid] = []
        return tid

    def run(self):
        for _ in range(min(4, self.max_threads)):
            self.start_thread()
        # each thread's first call, in id order: ids are given in the order threads first call
        for tid in list(self.active):
            self.step(tid)
        while len(self.records) < self.calls:
            tid = self.rng.choice(self.active)
            if self.rng.random() < 0.001:
                self.oddities(tid)
            elif (tid != 0 and self.rng.random() < 0.0015 and self.next_tid < self.max_threads):
                self.shared.extend(self.own.pop(tid))   # a thread leaves its blocks to others
                self.emit(THREAD_EXIT, tid)
                self.flush(tid)
                self.active.remove(tid)
                self.step(self.start_thread())
            else:
                self.step(tid)
        order = list(self.buffers)
        self.rng.shuffle(order)
        for tid in order:
            self.flush(tid)
        return self.chunks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["basic", "random"])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=8)
    a = ap.parse_args()
    trailing = b""
    if a.kind == "basic":
        chunks, expect, trailing = basic()
    else:
        prog = Program(random.Random(a.seed), a.calls, a.threads)
        chunks = prog.run()
        expect = oracle.expect(prog.records)
    write_trace(a.out, chunks, trailing=trailing)
    expect["trailing_bytes"] = len(trailing)
    with open(a.out + ".expect.json", "w") as f:
        json.dump(expect, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
