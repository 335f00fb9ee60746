"""A `database` job from SQLite into a real PostgreSQL target (tests/services):
the snapshot arrives with its types, then inserts, updates and deletes; the
target keeps its checkpoint in its own table."""

import hashlib
import os
import sqlite3
import unittest
import uuid

import services
from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class PostgresTargetTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_b()
        # Unique names: the servers are shared by every test of the run.
        self.schema = "t_" + uuid.uuid4().hex[:10]
        self.job = "to_pg_" + self.schema
        services.psql(self.pg, f"CREATE SCHEMA {self.schema}")
        self.addCleanup(services.psql, self.pg, f"DROP SCHEMA {self.schema} CASCADE")
        self.addCleanup(services.psql, self.pg,
                        f"DELETE FROM _megasync_checkpoints WHERE job = '{self.job}'")
        self.source_path = os.path.join(self.tmp, "app.db")
        db = sqlite3.connect(self.source_path)
        with db:
            db.executescript("""
                CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL,
                                   active BOOLEAN, added DATETIME, blob BLOB, note TEXT);
                CREATE TABLE pairs(a INTEGER, b TEXT, n INTEGER, PRIMARY KEY(a, b));
            """)
            db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(i, f"item {i}\twith tab", i * 0.5, i % 2,
                             f"2026-01-{i % 28 + 1:02d} 10:{i % 60:02d}:00",
                             bytes([i % 256, 0, 255]), None if i % 3 else "back\\slash\nline")
                            for i in range(1, 3001)])
            db.executemany("INSERT INTO pairs VALUES (?, ?, ?)",
                           [(i % 50, f"k{i}", i) for i in range(500)])
        db.close()
        pg = self.pg
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  app:
    type: sqlite
    path: app.db
  warehouse:
    type: postgres
    url: "{pg.url}"
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [warehouse]
    transforms:
      - type: rename
        collection: items
        collection_to: {self.schema}.items
      - type: rename
        collection: pairs
        collection_to: {self.schema}.pairs
""")

    def sync(self):
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)

    def pg_rows(self, sql: str) -> list:
        return services.psql(self.pg, sql)

    def source_rows(self, sql: str) -> list:
        db = sqlite3.connect(self.source_path)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def assert_items_equal(self):
        want = self.source_rows(
            "SELECT id, name, price, active, added, hex(blob), note FROM items ORDER BY id")
        # Text with tabs and newlines is compared by its md5: psql prints rows as lines.
        got = self.pg_rows(
            f"SELECT id, md5(name), price, active, to_char(added, 'YYYY-MM-DD HH24:MI:SS'), "
            f"coalesce(upper(encode(blob, 'hex')), ''), coalesce(md5(note), 'null') "
            f"FROM {self.schema}.items ORDER BY id")
        self.assertEqual(len(got), len(want))
        for (i, name, price, active, added, blob, note), row in zip(want, got):
            self.assertEqual(row[0], str(i))
            self.assertEqual(row[1], md5(name))
            self.assertEqual(float(row[2]), price)
            self.assertEqual(row[3], "t" if active else "f")
            self.assertEqual(row[4], added)
            self.assertEqual(row[5], blob)
            self.assertEqual(row[6], "null" if note is None else md5(note))

    def test_snapshot_then_changes(self):
        self.sync()
        self.assert_items_equal()
        self.assertEqual(self.pg_rows(f"SELECT count(*) FROM {self.schema}.pairs"), [["500"]])
        types = dict(tuple(r) for r in self.pg_rows(
            f"SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{self.schema}' AND table_name = 'items'"))
        self.assertEqual(types["id"], "bigint")
        self.assertEqual(types["price"], "double precision")
        self.assertEqual(types["active"], "boolean")
        self.assertEqual(types["blob"], "bytea")

        db = sqlite3.connect(self.source_path)
        with db:
            db.execute("UPDATE items SET name = 'renamed', price = 99.25 WHERE id % 100 = 0")
            db.execute("DELETE FROM items WHERE id > 2900")
            db.execute("INSERT INTO items VALUES (5000, 'new', 1.5, 1, '2026-02-01 00:00:00',"
                       " NULL, 'n')")
            db.execute("UPDATE items SET id = 6000 WHERE id = 1")  # a key change
            db.execute("DELETE FROM pairs WHERE a = 7")
        db.close()
        self.sync()
        self.assert_items_equal()
        self.assertEqual(self.pg_rows(f"SELECT count(*) FROM {self.schema}.pairs"),
                         [[str(len(self.source_rows("SELECT * FROM pairs")))]])
        checkpoint = self.pg_rows(
            f"SELECT position FROM _megasync_checkpoints WHERE job = '{self.job}'")
        self.assertEqual(len(checkpoint), 1)
        self.assertTrue(checkpoint[0][0])

        # Verification reads PostgreSQL back: types, timestamps and blobs compare equal.
        verify = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)
        services.psql(self.pg, f"UPDATE {self.schema}.items SET price = -1 WHERE id = 42; "
                               f"DELETE FROM {self.schema}.pairs WHERE a = 3 AND b = 'k3'")
        verify = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_FAILED)
        self.assertIn("differ (1): [42]", verify.stdout)
        self.assertIn("missing (1): [3, 'k3']", verify.stdout)
        repair = run_cli(["verify", "--repair", "-c", self.config, self.job], cwd=self.tmp,
                         timeout=120)
        self.assert_exit(repair, EXIT_OK)
        self.assert_items_equal()

    def test_updates_and_inserts_in_small_batches(self):
        """Upserts are applied UPDATE-first (the rows found, then the others
        inserted) while a table's upserts are mostly updates, and INSERT ... ON
        CONFLICT while they are mostly new rows: in one run of many small
        batches (updates, then new rows, then updates again), rows deleted at
        the target behind the job's back come back with their update, and
        the target ends equal to the source."""
        self.sync()
        self.assert_items_equal()
        with open(self.config) as f:
            config = f.read()
        small = os.path.join(self.tmp, "small.yaml")
        with open(small, "w") as f:
            f.write(config.replace("    kind: database\n", "    kind: database\n    batch_size: 20\n"))
        services.psql(self.pg, f"DELETE FROM {self.schema}.items WHERE id BETWEEN 10 AND 19 "
                               f"OR id IN (42, 2500)")
        db = sqlite3.connect(self.source_path)
        with db:
            db.execute("UPDATE items SET name = 'first pass' WHERE id <= 100")
            db.executemany("INSERT INTO items VALUES (?, ?, 1.0, 1, '2026-03-01 00:00:00', NULL,"
                           " NULL)", [(i, f"new {i}") for i in range(10001, 10401)])
            db.execute("UPDATE items SET price = 7.5 WHERE id <= 100 OR id BETWEEN 2401 AND 2600")
        db.close()
        result = run_cli(["sync", "-c", small, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        self.assert_items_equal()

if __name__ == "__main__":
    unittest.main()
