# A small Python workload for the memcheck runs (tests/suites/hardening.sh): JSON round trip,
# sorting, grouping and threads; run with PYTHONMALLOC=malloc so every object goes through malloc.
import json
import random
import threading

random.seed(1)
recs = [{"id": i, "name": "n%d" % i, "v": [random.random() for _ in range(5)]} for i in range(2000)]
text = json.dumps(recs)
back = json.loads(text)
assert back == recs
groups = {}
for r in back:
    groups.setdefault(r["id"] % 97, []).append(r)
out = [None] * 8


def work(k):
    out[k] = sorted(groups[k], key=lambda r: r["v"][0])[0]["id"]


threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(text), len(groups), out)
