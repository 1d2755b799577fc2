# The lab's Python job (run with PYTHONMALLOC=malloc, so that every object goes through the
# allocator under test): records through JSON and back, grouping, word counts, sorting, string
# building, many small objects made and dropped. Prints the same lines whatever the allocator.
import collections, hashlib, json, random, re

random.seed(7)
records = [{"id": i, "name": "user%05d" % i, "tags": ["t%d" % (i % 17), "g%d" % (i % 5)],
            "score": round(random.random(), 6), "note": "x" * (i % 300)} for i in range(30000)]
text = json.dumps(records, sort_keys=True)
back = json.loads(text)
assert back == records
print(len(text), hashlib.sha256(text.encode()).hexdigest()[:16])

groups = collections.defaultdict(list)
for r in back:
    groups[r["tags"][0]].append(r["score"])
print(sorted((k, round(sum(v) / len(v), 6)) for k, v in groups.items())[:3])

words = collections.Counter(re.findall(r"[a-z]+[0-9]*", text))
print(words.most_common(3))

values = sorted(random.random() for _ in range(100000))
print(round(values[50000], 9), round(sum(values[:100]), 9))

parts = []
for i in range(50000):
    parts.append("%d:%s;" % (i, hex(i * 2654435761 % 1000003)))
joined = "".join(parts)
print(len(joined), joined[-20:])

class Node:
    def __init__(self, key, nxt):
        self.key, self.nxt = key, nxt

total = 0
for rnd in range(5):
    head = None
    for i in range(40000):
        head = Node(i * rnd, head)
    while head is not None:
        total += head.key
        head = head.nxt
print(total)
