#!/usr/bin/env bash
# Writes the SQL script of the sqlite workload on stdout: ROWS explicit INSERTs of rows with
# text of varied length (SQLite parses and compiles each statement: many small allocations),
# then indexes, grouping, a join, sorting, window functions, JSON, updates that grow rows,
# deletes and VACUUM. The output of the script is small and deterministic. Run as
#   gen-sql.sh ROWS > script.sql; sqlite3 -batch -init /dev/null :memory: < script.sql
set -euo pipefail
rows=${1:?usage: gen-sql.sh ROWS}

cat <<'EOF'
.bail on
PRAGMA cache_size = -32768;
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, cat INTEGER, price REAL, tags TEXT, body TEXT);
BEGIN;
EOF
# Park-Miller: exact in awk's doubles, so every awk gives the same rows.
awk -v rows="$rows" 'BEGIN {
    x = 12345; split("ka lo mi ne ru sa to vi xe zu bri sk", syl, " ")
    for (id = 1; id <= rows; id++) {
        x = (x * 16807) % 2147483647; name = "item-" (x % 100000)
        for (k = x % 3; k >= 0; k--) { x = (x * 16807) % 2147483647; name = name syl[x % 12 + 1] }
        x = (x * 16807) % 2147483647; cat = x % 97
        x = (x * 16807) % 2147483647; price = (x % 100000) / 100
        x = (x * 16807) % 2147483647; nwords = 3 + x % 60; body = ""
        for (k = 0; k < nwords; k++) { x = (x * 16807) % 2147483647; body = body syl[x % 12 + 1] (k % 7 ? "" : " ") }
        printf "INSERT INTO items VALUES(%d, \047%s\047, %d, %.2f, \047t%d,t%d\047, \047%s\047);\n", id, name, cat, price, cat % 7, x % 13, body
    }
}'
cat <<'EOF'
COMMIT;
CREATE INDEX items_cat ON items(cat, price);
CREATE INDEX items_name ON items(name);
SELECT cat, count(*), round(sum(price), 2), max(length(body)) FROM items GROUP BY cat ORDER BY cat LIMIT 12;
SELECT count(*), round(sum(a.price - b.price), 2) FROM items a JOIN items b ON b.cat = a.cat AND b.id = a.id + 97;
SELECT substr(group_concat(name, ','), 1, 80) FROM (SELECT name FROM items ORDER BY name DESC, id LIMIT 2000);
SELECT id, cat, price FROM (SELECT id, cat, price, rank() OVER (PARTITION BY cat ORDER BY price DESC, id) AS r FROM items) WHERE r = 1 ORDER BY cat LIMIT 10;
SELECT tags, count(*), round(avg(length(body)), 3) FROM items GROUP BY tags ORDER BY 2 DESC, 1 LIMIT 5;
SELECT length(json_group_array(json_object('id', id, 'name', name, 'tags', tags))) FROM items WHERE cat < 20;
UPDATE items SET body = body || ' ' || upper(body), name = name || '-x' WHERE id % 3 = 0;
DELETE FROM items WHERE id % 5 = 0 OR price < 50;
SELECT count(*), sum(length(body)), count(DISTINCT name) FROM items;
CREATE TABLE summary AS SELECT cat, group_concat(substr(name, 1, 12), ';') AS names FROM items GROUP BY cat;
SELECT count(*), sum(length(names)) FROM summary;
VACUUM;
SELECT count(*), round(sum(price), 2) FROM items;
EOF
