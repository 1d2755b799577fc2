-- An allocation-heavy SQLite job for `make demo`: generate 100k orders and 20k customers,
-- index them, and run grouping, join, sort, update and delete queries. Deterministic output.
.bail on
PRAGMA cache_size = -65536;

CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT, since INTEGER);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, item TEXT, qty INTEGER,
                    price REAL, note TEXT);

WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000)
INSERT INTO customers
SELECT x,
       printf('cust-%05d-%s', (x * 7919) % 20011, substr('abcdefghijklmnopqrstuvwxyz', x % 26 + 1, 1 + x % 7)),
       'city' || (x * 31 % 97),
       2000 + x % 24
FROM n;

WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000)
INSERT INTO orders
SELECT x,
       1 + (x * 104729) % 20000,
       'item-' || (x * 13 % 1009),
       1 + x % 9,
       round(((x * 2654435761) % 100000) / 100.0, 2),
       replace(printf('%.*c', 10 + x % 200, 'x'), 'x', char(97 + x % 26))
FROM n;

CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_item ON orders(item, price);
CREATE INDEX customers_city ON customers(city, name);

.mode list
.separator |
SELECT 'rows', (SELECT count(*) FROM customers), (SELECT count(*) FROM orders);
SELECT 'revenue', round(sum(qty * price), 2) FROM orders;

-- Top customers by revenue (join + group + sort).
SELECT c.name, c.city, count(*), round(sum(o.qty * o.price), 2) AS total
FROM orders o JOIN customers c ON c.id = o.customer
GROUP BY c.id ORDER BY total DESC, c.id LIMIT 10;

-- Per-city statistics with a string aggregate (large temporary strings).
SELECT city, count(*), length(group_concat(name, ',')), min(name), max(name)
FROM customers GROUP BY city ORDER BY city LIMIT 15;

-- Items: distinct counts and a sort over the whole table on an expression.
SELECT item, count(DISTINCT customer), round(avg(price), 3)
FROM orders GROUP BY item ORDER BY count(DISTINCT customer) DESC, item LIMIT 10;
SELECT id, length(note) FROM orders ORDER BY note DESC, id LIMIT 5;

-- Window function over all orders.
SELECT customer, id, running FROM (
  SELECT customer, id, sum(qty) OVER (PARTITION BY customer ORDER BY id) AS running
  FROM orders) WHERE id % 9973 = 0 ORDER BY id;

-- Churn: update notes (grow), delete a fifth, re-insert, vacuum.
UPDATE orders SET note = note || note || upper(item) WHERE id % 3 = 0;
DELETE FROM orders WHERE id % 5 = 0;
INSERT INTO orders(customer, item, qty, price, note)
SELECT customer, item || '-re', qty + 1, price * 1.1, substr(note, 1, 50)
FROM orders WHERE id % 7 = 0;
VACUUM;
SELECT 'after churn', count(*), sum(length(note)), round(sum(qty * price), 2) FROM orders;
PRAGMA integrity_check;
