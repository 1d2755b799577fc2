# An allocation-heavy Python job for `make demo`: build a table of records, serialise it to
# JSON and back, sort and group strings, count words, pass batches of objects between threads,
# and print a deterministic summary.
# Run with PYTHONMALLOC=malloc so that every Python object goes through the C allocator.
import hashlib
import json
import queue
import random
import sys
import threading
from collections import Counter, defaultdict

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
rng = random.Random(20240601)
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "xe", "zu", "bri", "sk"]


def word(n):
    return "".join(rng.choice(SYLLABLES) for _ in range(n))


POOL = [word(rng.randint(1, 3)) for _ in range(5000)]


def digest(obj):
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


# 1. A dict of N records, each a small dict with strings, a list and a float.
users = {}
for i in range(N):
    users[f"user{i:07d}"] = {
        "id": i,
        "name": word(rng.randint(2, 5)).capitalize(),
        "tags": rng.choices(SYLLABLES, k=rng.randint(0, 6)),
        "score": round(rng.random() * 1000, 3),
        "bio": " ".join(rng.choices(POOL, k=rng.randint(3, 12))),
    }
print("records", len(users))

# 2. JSON round trip (one big string, then the whole structure rebuilt from it).
text = json.dumps(users, sort_keys=True)
back = json.loads(text)
assert back == users, "json round trip changed the data"
print("json bytes", len(text), "digest", hashlib.sha256(text.encode()).hexdigest()[:16])
del text, back

# 3. Sort strings several ways; keep the records in a list sorted by (name, score).
names = sorted(u["name"] for u in users.values())
by_len = sorted(names, key=lambda s: (len(s), s))
ranked = sorted(users.values(), key=lambda u: (u["name"], -u["score"], u["id"]))
print("names", len(names), "first", names[0], "last", names[-1], "longest", by_len[-1])
print("ranked digest", digest([u["id"] for u in ranked]))

# 4. Group, count, and reshape: tag index, word counts, per-initial statistics.
tag_index = defaultdict(list)
for key, u in users.items():
    for t in u["tags"]:
        tag_index[t].append(key)
words = Counter()
for u in users.values():
    words.update(u["bio"].split())
initials = defaultdict(lambda: [0, 0.0])
for u in users.values():
    s = initials[u["name"][0]]
    s[0] += 1
    s[1] += u["score"]
print("tags", sorted((t, len(v)) for t, v in tag_index.items()))
print("top words", words.most_common(5))
print("initials", [(k, n, round(total / n, 2)) for k, (n, total) in sorted(initials.items())])

# 5. Churn: drop and re-create a third of the records, growing and shrinking strings.
for i in range(0, N, 3):
    key = f"user{i:07d}"
    u = users.pop(key)
    u["bio"] = (u["bio"] + " ") * 3
    u["tags"] = u["tags"][::-1] + ["moved"]
    users[key + "m"] = u
print("after churn", len(users), "digest", digest(sorted(users)[:1000]))
print("bio bytes", sum(len(u["bio"]) for u in users.values()))

# 6. Threads: producers build batches of records, consumers check and drop them, so most
#    blocks are freed by a thread other than the one that allocated them.
PRODUCERS, CONSUMERS, BATCHES, BATCH = 4, 4, 100, 250
q = queue.Queue(maxsize=32)
totals = [0] * CONSUMERS


def produce(p):
    r = random.Random(p)
    for b in range(BATCHES):
        q.put([{"p": p, "n": b * BATCH + k, "s": " ".join(r.choices(POOL, k=r.randint(1, 30)))}
               for k in range(BATCH)])


def consume(c):
    while (batch := q.get()) is not None:
        totals[c] += sum(d["n"] + len(d["s"]) for d in batch)


threads = [threading.Thread(target=consume, args=(c,)) for c in range(CONSUMERS)]
producers = [threading.Thread(target=produce, args=(p,)) for p in range(PRODUCERS)]
for t in threads + producers:
    t.start()
for t in producers:
    t.join()
for _ in threads:
    q.put(None)
for t in threads:
    t.join()
print("threads total", sum(totals))
