#!/usr/bin/env python3
"""gendump.py SEGMENTS OUT.jsonl: a heap dump (docs/trace-format.md) with SEGMENTS segments of
assorted pages, some large blocks and a stats line, all made up but consistent: the picture
tests use it to see the map grow by one row per segment and stay faithful at any size."""

import json
import random
import sys

SLOT = 65536


def main():
    nseg, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(nseg)
    lines = [{"type": "process", "pid": 99, "time_ns": 2_000_000_000, "segment_size": 64 * SLOT,
              "slot_size": SLOT, "slots": 64}]
    classes = [(c, 16 * (c + 1)) for c in range(8)] + [(20, 1024), (33, 8192), (48, 262144)]
    live = committed = 0
    for s in range(nseg):
        addr = f"0x{0x7f0000000000 + s * 64 * SLOT:x}"
        lines.append({"type": "segment", "addr": addr, "heap": s % 3,
                      "state": ["owned", "orphan", "cache"][s % 3]})
        slot = 1
        while slot < 64 and s % 3 != 2:
            n = min(rng.choice([1, 1, 2, 4]), 64 - slot)
            # every class in the first segment: the legend is the same whatever SEGMENTS is
            first = sum(1 for o in lines if o["type"] == "page")
            c, size = classes[first] if first < len(classes) else rng.choice(classes)
            cap = n * SLOT // size
            used = rng.randint(0, cap)
            com = n * SLOT if rng.random() < 0.8 else SLOT // 2
            lines.append({"type": "page", "segment": addr, "slot": slot, "nslots": n, "class": c,
                          "block_size": size, "capacity": cap, "used": used, "committed": com})
            live += used * size
            committed += com
            slot += n + rng.choice([0, 0, 1, 3])
    for i in range(3):
        size = (i + 1) * 3 << 20
        lines.append({"type": "large", "addr": f"0x{0x7f5000000000 + i * (1 << 30):x}",
                      "size": size, "mapped": size + 4096, "cached": i == 2})
        if i != 2:
            live += size
        committed += size + 4096
    lines.append({"type": "stats", "allocations": 12345, "live_bytes": live,
                  "mapped_bytes": committed * 2, "committed_bytes": committed,
                  "peak_committed_bytes": committed, "purged_bytes": 0, "large_live": 2,
                  "large_cached": 1, "heaps_created": 3, "heaps_reclaimed": 0, "remote_frees": 0})
    with open(out, "w") as f:
        for obj in lines:
            f.write(json.dumps(obj, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
