#!/usr/bin/env python3
"""The table of `brisk trace replay`: RESULTS holds one line per run, "NAME<TAB>LIB<TAB>RC<TAB>
the replayer's 'replay: key=value ...' line" (empty when it printed none). Prints per allocator
the median replay time and the median peak RSS of the replay (the process's peak less what it
held before the replay started: the replayer's own tables), with ratios to glibc. Exit 1 when a
run failed (exit status or failed checks)."""

import json
import statistics
import sys


def parse(path):
    runs = {}
    order = []
    with open(path) as f:
        for line in f:
            name, lib, rc, out = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
            if name not in runs:
                runs[name] = {"lib": lib, "runs": []}
                order.append(name)
            kv = dict(p.split("=", 1) for p in out.split()[1:] if "=" in p)
            runs[name]["runs"].append({"rc": int(rc), **kv})
    return order, runs


def figures(order, runs):
    rows = []
    for name in order:
        r = runs[name]
        ok = [x for x in r["runs"] if x["rc"] == 0 and x.get("errors") == "0"]
        bad = len(r["runs"]) - len(ok)
        row = {"allocator": name, "lib": r["lib"], "runs": len(r["runs"]), "failed": bad}
        if ok:
            row["time_s"] = statistics.median(float(x["time_s"]) for x in ok)
            row["peak_rss_kb"] = statistics.median(
                int(x["peak_rss_kb"]) - int(x["base_rss_kb"]) for x in ok)
            row["ops"] = int(ok[0]["ops"])
            row["threads"] = int(ok[0]["threads"])
        if bad:
            first = next(x for x in r["runs"] if not (x["rc"] == 0 and x.get("errors") == "0"))
            row["failure"] = (f"exit status {first['rc']}" if first["rc"] != 0
                              else f"{first.get('errors')} failed checks")
        rows.append(row)
    base = next((r for r in rows if r["allocator"] == "glibc" and "time_s" in r), None)
    for r in rows:
        if base and "time_s" in r:
            r["time_ratio"] = r["time_s"] / base["time_s"] if base["time_s"] else None
            r["rss_ratio"] = (r["peak_rss_kb"] / base["peak_rss_kb"]
                              if base["peak_rss_kb"] else None)
    return rows


def ratio(v):
    return f"{v:.2f}" if v is not None else "-"


def main():
    as_json = "--json" in sys.argv[2:]
    order, runs = parse(sys.argv[1])
    rows = figures(order, runs)
    if as_json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    else:
        ok = next((r for r in rows if "ops" in r), None)
        if ok:
            print(f"{ok['ops']} operations in {ok['threads']} threads; medians of {ok['runs']} "
                  f"runs, allocators taking turns")
        print(f"{'allocator':<18} {'time s':>10} {'peak RSS MiB':>13} {'time/glibc':>11} "
              f"{'RSS/glibc':>10}")
        for r in rows:
            if "time_s" in r:
                print(f"{r['allocator']:<18} {r['time_s']:>10.4f} {r['peak_rss_kb'] / 1024:>13.1f}"
                      f" {ratio(r.get('time_ratio')):>11} {ratio(r.get('rss_ratio')):>10}"
                      + (f"  ({r['failed']} runs failed: {r['failure']})" if r["failed"] else ""))
            else:
                print(f"{r['allocator']:<18} FAILED: {r['failure']}")
    return 1 if any(r["failed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
