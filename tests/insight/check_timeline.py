#!/usr/bin/env python3
"""check_timeline.py EXPECT.json TIMELINE.csv [EVERY]: a replay's timeline against gentrace.py's
figures: a row after record 0, every EVERY records and after the last; in each, live bytes
equal to the trace's live bytes after that record, the size ranges adding up to them, and an
RSS (above the replayer's own) that grows at least half as high as megabytes live; committed bytes present when REQUIRE_COMMITTED=1 (a replay under brisk)."""

import csv
import os
import sys


def main():
    import json
    want = json.load(open(sys.argv[1]))["live_after"]
    rows = list(csv.DictReader(open(sys.argv[2], newline="")))
    every = int(sys.argv[3]) if len(sys.argv) > 3 else None
    n = len(want)
    if every:
        records = list(range(0, n + 1, every))
        if records[-1] != n:
            records.append(n)
        got = [int(r["record"]) for r in rows]
        if got != records:
            print(f"rows after records {got[:10]}..., expected {records[:10]}...")
            return 1
    for r in rows:
        rec, live = int(r["record"]), int(r["live_bytes"])
        expect = want[rec - 1] if rec else 0
        parts = sum(int(r[c]) for c in r if c.startswith("live_") and c != "live_bytes")
        if live != expect or parts != live:
            print(f"after record {rec}: live {live} (ranges add to {parts}), expected {expect}")
            return 1
        if int(r["rss_bytes"]) < 0:
            print(f"after record {rec}: a negative resident set")
            return 1
        if os.environ.get("REQUIRE_COMMITTED") == "1" and not r["committed_bytes"]:
            print(f"after record {rec}: no committed bytes (brisk_get_stats not found?)")
            return 1
    # the RSS column is the allocator's: with megabytes live (touched every 4 KiB) it must have
    # grown; a few KiB may fit in memory the allocator had faulted in before the replay began
    peak_rss = max(int(r["rss_bytes"]) for r in rows)
    if max(want) >= (1 << 20) and peak_rss < max(want) // 2:
        print(f"the RSS column peaks at {peak_rss} bytes, for {max(want)} bytes live at most")
        return 1
    print(f"timeline ok: {len(rows)} rows, live bytes as the trace says "
          f"(last {rows[-1]['live_bytes']}), RSS up to {peak_rss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
