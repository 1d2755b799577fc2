#!/usr/bin/env python3
"""check_summary.py EXPECT.json SUMMARY.json: every figure of EXPECT (gentrace.py's) must be
in the summary (`brisk trace summary --json`) with the same value. Exact, but for the
median and p90 lifetimes of 256 and more, which the summary keeps in a log-linear histogram:
those may be up to 1/128 above the true value, never below. Prints what differs; exit 1."""

import json
import sys

SKIP = {"replay_ops", "live_after"}   # for the replay tests, not part of the summary
APPROX = {("lifetimes", "calls", "median"), ("lifetimes", "calls", "p90"),
          ("lifetimes", "ns", "median"), ("lifetimes", "ns", "p90")}


def compare(want, got, path, errors):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            errors.append(f"{'.'.join(path)}: expected an object, got {got!r}")
            return
        for k, v in want.items():
            if not path and k in SKIP:
                continue
            if k not in got:
                errors.append(f"{'.'.join(path + [k])}: missing")
            else:
                compare(v, got[k], path + [k], errors)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            errors.append(f"{'.'.join(path)}: expected {len(want)} items, got {got!r}")
            return
        for i, (w, g) in enumerate(zip(want, got)):
            compare(w, g, path + [str(i)], errors)
    elif tuple(path) in APPROX and isinstance(got, int) and want >= 256:
        if not (want <= got <= want + want // 128 + 1):
            errors.append(f"{'.'.join(path)}: {got}, expected {want} (to within 1/128 above)")
    elif got != want:
        errors.append(f"{'.'.join(path)}: {got!r}, expected {want!r}")


def main():
    with open(sys.argv[1]) as f:
        want = json.load(f)
    with open(sys.argv[2]) as f:
        got = json.load(f)
    errors = []
    compare(want, got, [], errors)
    for e in errors:
        print("mismatch:", e)
    if errors:
        return 1
    print(f"summary matches: {got['calls']} calls, {got['threads']['count']} threads, "
          f"peak live {got['peak_live']['bytes']} bytes, {len(got['sizes'])} size buckets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
