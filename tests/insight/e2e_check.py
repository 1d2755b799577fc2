#!/usr/bin/env python3
"""e2e_check.py EXPECTED.json BASE.json WORK.json: the summaries of traced_prog's two traces
(`base` and `work`) differ by exactly the calls traced_prog made (EXPECTED is what
`traced_prog expected` prints), since the C library's own allocations are the same in both."""

import json
import sys


def malloc_sizes(e):
    """The sizes traced_prog asks for, by the program's own rules (see traced_prog.c)."""
    sizes = []
    for _ in range(e["threads"]):
        sizes += [16 + (i % 64) * 16 for i in range(e["blocks_per_thread"])]
        sizes += [100] * 100                  # calloc(4, 25)
        sizes += [200] * 50 + [4096] * 50     # posix_memalign(64, 200), aligned_alloc(4096, 4096)
        sizes += [100] * 20                   # memalign(128, 100)
        sizes += [10] + [10 * k * k for k in range(1, 21)]   # realloc(NULL, 10), then the chain
    return sizes


def buckets(sizes):
    out = {}
    for s in sizes:
        lo = 1 << (s.bit_length() - 1) if s else 0
        b = out.setdefault(lo, [0, 0])
        b[0] += 1
        b[1] += s
    return out


def main():
    e, base, work = (json.load(open(p)) for p in sys.argv[1:4])
    errors = []

    def same(what, got, want):
        if got != want:
            errors.append(f"{what}: {got}, expected {want}")

    for op in ("malloc", "calloc", "aligned", "realloc", "free"):
        same(f"{op} calls", work["ops"][op] - base["ops"][op], e[op])
    same("realloc(NULL, n)", work["realloc_null"] - base["realloc_null"], e["realloc_null"])
    same("realloc(p, 0)", work["realloc_free"] - base["realloc_free"], e["realloc_free"])
    cross = [sum(t["cross_frees"] for t in s["threads"]["per_thread"]) for s in (base, work)]
    same("cross-thread frees", cross[1] - cross[0], e["cross_frees"])
    same("threads", work["threads"]["count"] - base["threads"]["count"], e["threads"])
    same("threads exited", work["threads"]["exited"] - base["threads"]["exited"], e["threads"])
    same("never freed", work["lifetimes"]["never_freed"], base["lifetimes"]["never_freed"])
    for s, name in ((base, "base"), (work, "work")):
        same(f"{name}: unmatched", s["unmatched"], {"frees": 0, "reallocs": 0, "reused_live": 0})
        same(f"{name}: failed calls", s["failed"], 0)
    have = {b["lo"]: [b["count"], b["bytes"]] for b in work["sizes"]}
    for b in base["sizes"]:
        have[b["lo"]][0] -= b["count"]
        have[b["lo"]][1] -= b["bytes"]
    have = {k: v for k, v in have.items() if v != [0, 0]}
    sizes = malloc_sizes(e)
    same("size histogram (work less base)", have, buckets(sizes))
    one_thread = sum(16 + (i % 64) * 16 for i in range(e["blocks_per_thread"]))
    if work["peak_live"]["bytes"] < one_thread:
        errors.append(f"peak live {work['peak_live']['bytes']} is below what one thread held "
                      f"at once ({one_thread})")
    for err in errors:
        print("mismatch:", err)
    if errors:
        return 1
    print(f"the trace holds what traced_prog did: {work['calls'] - base['calls']} calls in "
          f"{e['threads']} threads, {e['cross_frees']} freed across threads, "
          f"{len(sizes)} sizes in {len(buckets(sizes))} buckets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
