-- sqlite3's shell on a database file: tables and indexes, joins, aggregates, window functions,
-- recursive CTEs, transactions and savepoints, triggers, views, JSON, a rollback journal and
-- WAL, VACUUM and integrity checks. Only deterministic output: no random(), no 'now'.
.bail on
.headers on
.mode list
PRAGMA page_size = 4096;
PRAGMA journal_mode = DELETE;
CREATE TABLE dept(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE emp(id INTEGER PRIMARY KEY, name TEXT, dept INTEGER REFERENCES dept(id), salary REAL, hired TEXT);
CREATE INDEX emp_dept ON emp(dept, salary);
INSERT INTO dept(name) VALUES ('eng'), ('ops'), ('sales'), ('empty');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO emp(name, dept, salary, hired)
SELECT printf('emp%04d', i), 1 + i % 3, 1000 + (i * 37) % 900 + (i % 7) * 0.25, date('2020-01-01', printf('+%d days', i % 1000)) FROM n;
SELECT count(*), sum(salary), min(hired), max(hired) FROM emp;
SELECT d.name, count(e.id) AS n, round(avg(e.salary), 3) AS avg, max(e.salary) AS top
  FROM dept d LEFT JOIN emp e ON e.dept = d.id GROUP BY d.id ORDER BY d.name;
SELECT name, salary, rank() OVER (PARTITION BY dept ORDER BY salary DESC, id) AS r,
       sum(salary) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS running
  FROM emp WHERE id % 250 = 0 ORDER BY id;
WITH RECURSIVE fib(a, b, k) AS (SELECT 0, 1, 0 UNION ALL SELECT b, a + b, k + 1 FROM fib WHERE k < 40)
SELECT group_concat(a, ' ') FROM (SELECT a FROM fib WHERE k % 8 = 0);
SELECT strftime('%Y-%m-%d %H:%M:%S %w %j', '2024-02-29 13:45:10', '+1 year', '-3 hours'), julianday('2000-01-01'), unixepoch('2024-01-01');
SELECT upper('mixed Case'), substr('abcdefgh', 3, 4), instr('hello', 'll'), replace('a-b-c', '-', '+'), length('h€llo'), hex('€'), quote('it''s'), trim('  x  ') || '|';
SELECT 7 / 2, 7 / 2.0, 7 % 3, -7 % 3, 1 << 40, abs(-9223372036854775807), typeof(1), typeof(1.0), typeof('1'), typeof(x'01'), typeof(NULL);
SELECT round(sqrt(2), 10), round(pi(), 8), pow(2, 10), ln(exp(1)), floor(-2.5), ceil(2.1);
SELECT printf('%5d|%-5s|%.3f|%e|%x|%q', 42, 'ab', 3.14159, 12345.678, 255, 'o''k');
SELECT json_object('a', 1, 'b', json_array(1, 2, 'x')), json_extract('{"k":{"n":[10,20,30]}}', '$.k.n[1]'), json_valid('{bad');
SELECT key, value FROM json_each('{"x":1,"y":[2,3],"z":null}');
CREATE VIEW payroll AS SELECT dept, count(*) AS n, sum(salary) AS total FROM emp GROUP BY dept;
CREATE TABLE audit(op TEXT, emp INTEGER, old REAL, new REAL);
CREATE TRIGGER emp_raise AFTER UPDATE OF salary ON emp BEGIN INSERT INTO audit VALUES ('raise', old.id, old.salary, new.salary); END;
BEGIN;
UPDATE emp SET salary = salary * 1.1 WHERE id IN (1, 2, 3);
SAVEPOINT sp;
DELETE FROM emp WHERE dept = 2;
SELECT 'inside savepoint', count(*) FROM emp;
ROLLBACK TO sp;
RELEASE sp;
COMMIT;
SELECT * FROM audit ORDER BY emp;
SELECT * FROM payroll ORDER BY dept;
BEGIN;
DELETE FROM emp;
ROLLBACK;
SELECT 'after rollback', count(*) FROM emp;
PRAGMA integrity_check;
.mode column
SELECT id, name, dept, salary FROM emp WHERE id BETWEEN 10 AND 14;
.mode quote
SELECT * FROM dept;
.mode list
-- WAL in exclusive locking mode keeps its index in the heap: Lamina has no shared file
-- mappings yet (mmap of the -shm file fails with ENODEV), which WAL's normal mode needs.
PRAGMA locking_mode = EXCLUSIVE;
PRAGMA journal_mode = WAL;
CREATE TABLE blobs(k INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO blobs SELECT i, zeroblob(i * 40) FROM n;
UPDATE blobs SET v = CAST(printf('%.*c', length(v), 'x') AS BLOB) WHERE k % 3 = 0;
SELECT count(*), sum(length(v)), hex(substr(v, 1, 4)) FROM blobs WHERE k = 150;
PRAGMA wal_checkpoint(TRUNCATE);
PRAGMA journal_mode = DELETE;
PRAGMA locking_mode = NORMAL;
DELETE FROM blobs WHERE k > 10;
VACUUM;
PRAGMA integrity_check;
SELECT count(*) FROM blobs;
PRAGMA page_count;
.tables
.schema dept
-- The last statement fails: the error message and the shell's exit status are compared too.
INSERT INTO emp(id, name) VALUES (1, 'duplicate');
SELECT 'not reached';
