-- The lab's SQLite job: an in-memory database built, indexed, queried, changed and vacuumed.
-- Prints the same rows whatever the allocator.
CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, price REAL, data BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
  INSERT INTO item SELECT i, (i * 7919) % 101, 'item-' || (i * 31 % 9973) || '-' || substr('abcdefghij', 1 + i % 10),
                          (i * 13 % 1000) / 10.0, zeroblob(i % 500) FROM n;
CREATE INDEX item_grp ON item(grp, name);
CREATE INDEX item_name ON item(name);
SELECT grp, count(*), printf('%.2f', sum(price)), min(name), max(length(data)) FROM item GROUP BY grp ORDER BY grp LIMIT 5;
SELECT count(*) FROM item WHERE name LIKE 'item-1%';
UPDATE item SET price = price * 1.5, name = name || '-x' WHERE grp % 3 = 0;
DELETE FROM item WHERE id % 5 = 0;
SELECT grp, printf('%.2f', total(price)) FROM item GROUP BY grp ORDER BY 2 DESC, 1 LIMIT 5;
SELECT a.grp, count(*) FROM item a JOIN item b ON a.grp = b.grp AND b.id < 200 GROUP BY a.grp ORDER BY a.grp LIMIT 5;
SELECT name, count(*) c FROM item GROUP BY name ORDER BY c DESC, name LIMIT 3;
SELECT grp, name, rank() OVER (PARTITION BY grp ORDER BY price DESC, id) r FROM item WHERE grp < 3 ORDER BY grp, r LIMIT 6;
VACUUM;
PRAGMA integrity_check;
SELECT count(*), printf('%.2f', sum(price)) FROM item;
