#!/usr/bin/env bash
# Real programs under LD_PRELOAD=libbrisk.so: python3, sqlite3, gcc (and g++), git.
#
# usage: BRISK_LIB=/path/libbrisk.so WORK=/scratch/dir bash tests/realprog.sh python|sqlite|gcc|git
#
# Each job runs twice in the same directory: once plainly, once with the target programs under
# LD_PRELOAD=libbrisk.so and BRISK_OPTIONS=stats=1. Both must exit 0; stdout must be
# byte-identical; stderr must be identical once brisk's report is removed; and the preloaded
# stderr must hold brisk's report with allocations > 0 (proof that brisk served the program).
set -u
prog=${1:?usage: realprog.sh python|sqlite|gcc|git}
LIB=${BRISK_LIB:?set BRISK_LIB}
W=${WORK:?set WORK}
export LC_ALL=C TZ=UTC

rm -rf "$W"
mkdir -p "$W"

strip_report() {
    awk '/^brisk: stats/ { skip = 1; next } skip && /^[ \t]/ { next } { skip = 0; print }' "$1"
}

# ---- the jobs (each a script run in $W/run; $RUN prefixes the programs under test) ----------
case $prog in
python)
    [ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 is missing"; exit 1; }
    cat >"$W/script.py" <<'EOF'
import collections, hashlib, json, random, re, sys
random.seed(12345)
d = {}
for i in range(150000):
    d["key%06d" % i] = [i, str(i) * (i % 9), {"n": i, "f": i / 7.0, "s": "x" * (i % 600)}]
enc = json.dumps(d, sort_keys=True)
back = json.loads(enc)
assert back == d
print(len(enc), hashlib.sha256(enc.encode()).hexdigest())
lst = [random.random() for _ in range(200000)]
lst.sort()
print(round(sum(lst[:10]), 12), lst[-1])
text = "".join(chr(97 + (i * i + 7 * i) % 26) for i in range(400000))
grams = collections.Counter(text[i:i + 3] for i in range(0, len(text) - 3))
print(grams.most_common(5))
print(len(re.findall(r"[aeiou]{2,}", text)))
bufs = [bytearray(n) for n in range(0, 3000000, 9973)]
for b in bufs:
    if b:
        b[-1] = 1
print(sum(len(b) for b in bufs), sum(b[-1] for b in bufs if b))
words = sorted({text[i:i + 12] for i in range(0, 300000, 5)})
print(len(words), words[:3], words[-1])
s = set()
for i in range(100000):
    s.add(i * 2654435761 % 1000003)
print(len(s))
tree = {}
for i in range(50000):
    tree.setdefault(i % 97, {}).setdefault(i % 89, []).append(str(i))
print(sum(len(v2) for v in tree.values() for v2 in v.values()))
sys.stdout.flush()
EOF
    cat >"$W/job.sh" <<'EOF'
export PYTHONHASHSEED=0
$RUN /usr/bin/python3 -I -B "$W/script.py"
EOF
    ;;
sqlite)
    command -v sqlite3 >/dev/null || { echo "sqlite3 is missing"; exit 1; }
    {
        echo "CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, data BLOB);"
        echo "BEGIN;"
        awk 'BEGIN { for (i = 1; i <= 20000; i++)
            printf "INSERT INTO t VALUES(%d, %d, %cname-%d-%s%c, %d.%03d, zeroblob(%d));\n",
                   i, (i * 7919) % 97, 39, (i * 31) % 5000, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26, 1 + i % 7), 39,
                   (i * 13) % 1000, (i * 17) % 1000, i % 700 }'
        echo "COMMIT;"
        cat <<'EOF'
CREATE INDEX t_grp ON t(grp, name);
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), printf('%.3f', sum(val)), min(name), max(length(name)), sum(length(data)) FROM t GROUP BY grp ORDER BY grp;
SELECT count(*) FROM t WHERE name LIKE 'name-1%';
UPDATE t SET val = val * 2, name = name || '-updated' WHERE grp % 3 = 0;
DELETE FROM t WHERE id % 7 = 0;
SELECT grp, printf('%.3f', total(val)) FROM t GROUP BY grp HAVING count(*) > 10 ORDER BY 2 DESC, 1 LIMIT 10;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000)
  SELECT sum(x), length(group_concat(x % 10, '')) FROM c;
SELECT a.grp, count(*) FROM t a JOIN t b ON a.grp = b.grp AND b.id < 300 GROUP BY a.grp ORDER BY a.grp LIMIT 8;
SELECT name, count(*) c FROM t GROUP BY name ORDER BY c DESC, name LIMIT 5;
VACUUM;
PRAGMA integrity_check;
SELECT count(*), printf('%.3f', sum(val)) FROM t;
EOF
    } >"$W/script.sql"
    cat >"$W/job.sh" <<'EOF'
$RUN sqlite3 -batch test.db <"$W/script.sql"
EOF
    ;;
gcc)
    {
        echo '#include <stdio.h>'
        echo '#include <stdlib.h>'
        echo '#include <string.h>'
        for i in $(seq 1 300); do
            cat <<EOF
static long f$i(long x) {
    long a[16];
    for (int k = 0; k < 16; k++) a[k] = (x * $i + k * 7) % 1009;
    long s = 0;
    for (int k = 0; k < 16; k++) { switch ((a[k] + $i) % 4) { case 0: s += a[k]; break; case 1: s -= a[k] / 3; break; case 2: s ^= a[k] << 2; break; default: s += $i; } }
    return s + (x > 1 ? f$(( i > 1 ? i - 1 : 1 ))(x / 2) : 0);
}
EOF
        done
        echo 'static int cmp(const void *a, const void *b) { long x = *(const long *)a, y = *(const long *)b; return (x > y) - (x < y); }'
        echo 'int main(void) {'
        echo '    static long r[300]; long total = 0;'
        for i in $(seq 1 300); do echo "    r[$((i - 1))] = f$i($i); total += r[$((i - 1))];"; done
        echo '    qsort(r, 300, sizeof r[0], cmp);'
        echo '    char buf[64]; snprintf(buf, sizeof buf, "%ld", total);'
        echo '    printf("total %s min %ld max %ld median %ld len %zu\n", buf, r[0], r[299], r[150], strlen(buf));'
        echo '    return 0;'
        echo '}'
    } >"$W/gen.c"
    cat >"$W/gen.cpp" <<'EOF'
#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>
template <int N> struct Fib { static const long v = Fib<N - 1>::v + Fib<N - 2>::v; };
template <> struct Fib<1> { static const long v = 1; };
template <> struct Fib<0> { static const long v = 0; };
int main() {
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 1000; i++) m["k" + std::to_string(i % 37)].push_back(i);
    long s = 0;
    for (auto &kv : m) s += std::count_if(kv.second.begin(), kv.second.end(), [](int x) { return x % 3 == 0; });
    std::cout << "count " << s << " fib " << Fib<60>::v << "\n";
}
EOF
    cat >"$W/job.sh" <<'EOF'
$RUN gcc -O2 -Wall -o prog "$W/gen.c" || exit 1
$RUN g++ -O1 -std=c++17 -o progxx "$W/gen.cpp" || exit 1
./prog && ./progxx
EOF
    ;;
git)
    command -v git >/dev/null || { echo "git is missing"; exit 1; }
    cat >"$W/job.sh" <<'EOF'
set -e
export HOME="$PWD/home" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE="2024-01-02T03:04:05Z" \
       GIT_COMMITTER_DATE="2024-01-02T03:04:05Z"
mkdir -p home repo
cd repo
G="$RUN git -c user.name=Brisk -c user.email=brisk@example.invalid -c init.defaultBranch=main -c gc.auto=0 -c core.pager=cat"
$G init -q .
for i in $(seq 1 300); do
    d=dir$((i % 10))
    mkdir -p $d
    awk -v i=$i 'BEGIN { for (k = 0; k < 40 + i % 50; k++) printf "file %d line %d: %s\n", i, k, substr("the quick brown fox jumps over the lazy dog", 1 + (i * k) % 30) }' >$d/f$i.txt
done
$G add .
$G commit -q -m "first commit: 300 files"
for i in $(seq 1 300 | awk '$1 % 4 == 0'); do echo "changed $i" >>dir$((i % 10))/f$i.txt; done
rm dir3/f13.txt dir5/f25.txt
$G add -A
$G commit -q -m "second commit: edits and removals"
$G log --stat --format='%H %an <%ae> %s'
$G repack -a -d -f -q
$G fsck --strict --no-progress
$G count-objects -v | grep -v -e '^size' -e '^prune'
$G diff --stat HEAD~1 HEAD | tail -n 3
$G ls-tree -r HEAD | wc -l
$G grep -c "changed" HEAD -- dir4 | head -n 5
$G rev-parse HEAD HEAD^{tree}
EOF
    ;;
*)
    echo "unknown program $prog"
    exit 1
    ;;
esac

run_mode() { # plain|brisk
    local mode=$1 run=""
    [ "$mode" = brisk ] && run="env LD_PRELOAD=$LIB BRISK_OPTIONS=stats=1"
    rm -rf "$W/run"
    mkdir -p "$W/run"
    (cd "$W/run" && RUN=$run W=$W timeout 240 bash "$W/job.sh") >"$W/$mode.out" 2>"$W/$mode.err"
    echo $? >"$W/$mode.rc"
}

run_mode plain
run_mode brisk
ok=1
for mode in plain brisk; do
    rc=$(cat "$W/$mode.rc")
    if [ "$rc" != 0 ]; then
        echo "$prog ($mode run) exited with status $rc; stderr:"
        tail -n 30 "$W/$mode.err"
        ok=0
    fi
done
if ! cmp -s "$W/plain.out" "$W/brisk.out"; then
    echo "$prog: stdout differs under brisk:"
    diff "$W/plain.out" "$W/brisk.out" | head -n 30
    ok=0
fi
strip_report "$W/brisk.err" >"$W/brisk.err.stripped"
if ! cmp -s "$W/plain.err" "$W/brisk.err.stripped"; then
    echo "$prog: stderr (brisk's report removed) differs under brisk:"
    diff "$W/plain.err" "$W/brisk.err.stripped" | head -n 30
    ok=0
fi
reports=$(grep -c '^brisk: stats' "$W/brisk.err")
allocs=$(awk '
    /^brisk: stats/ { inrep = 1; next }
    inrep && /^[ \t]*allocations[ \t]+[0-9]+/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { n += $i; break } }
    inrep && !/^[ \t]/ { inrep = 0 }
    END { print n + 0 }' "$W/brisk.err")
if [ "$reports" -eq 0 ] || [ "$allocs" -le 0 ]; then
    echo "$prog: no brisk report with allocations > 0 on stderr (brisk was not in use?):"
    tail -n 20 "$W/brisk.err"
    ok=0
fi
echo "$prog: $(wc -c <"$W/plain.out") bytes of identical output; $reports brisk report(s), $allocs allocations in all"
[ $ok = 1 ]
