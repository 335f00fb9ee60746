"""A `database` job from SQLite into a real MariaDB target (tests/services):
the snapshot arrives with its types, then inserts, updates, deletes and a key
change; the target keeps its checkpoint in its own table; `megasync verify`
reads MariaDB back, reports a planted difference and repairs it."""

import hashlib
import os
import sqlite3
import unittest
import uuid

import services
from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class MariadbTargetTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.maria = services.mariadb()
        # Unique names: the server is shared by every test of the run.
        self.database = "t_" + uuid.uuid4().hex[:10]
        self.job = "to_maria_" + self.database
        services.mariadb_sql(self.maria, f"CREATE DATABASE {self.database}")
        self.addCleanup(services.mariadb_sql, self.maria, f"DROP DATABASE {self.database}")
        self.addCleanup(services.mariadb_sql, self.maria,
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
                           [(i, f"item {i}\twith tab 'quoted' ünï", i * 0.5 + 0.1, i % 2,
                             f"2026-01-{i % 28 + 1:02d} 10:{i % 60:02d}:00",
                             bytes([i % 256, 0, 255, 39]),
                             None if i % 3 else "back\\slash\nline\0nul")
                            for i in range(1, 3001)])
            db.executemany("INSERT INTO pairs VALUES (?, ?, ?)",
                           [(i % 50, f"k{i}", i) for i in range(500)])
        db.close()
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
    type: mariadb
    url: "{self.maria.url}"
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [warehouse]
    transforms:
      - type: rename
        collection: items
        collection_to: {self.database}.items
      - type: rename
        collection: pairs
        collection_to: {self.database}.pairs
""")

    def sync(self):
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)

    def maria_rows(self, sql: str) -> list:
        return services.mariadb_sql(self.maria, sql)

    def source_rows(self, sql: str) -> list:
        db = sqlite3.connect(self.source_path)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def assert_items_equal(self):
        want = self.source_rows(
            "SELECT id, name, price, active, added, hex(blob), note FROM items ORDER BY id")
        # Text with tabs and newlines is compared by its md5: the client escapes them.
        got = self.maria_rows(
            f"SELECT id, MD5(name), price, active, DATE_FORMAT(added, '%Y-%m-%d %H:%i:%s'), "
            f"COALESCE(HEX(`blob`), ''), COALESCE(MD5(note), 'null') "
            f"FROM {self.database}.items ORDER BY id")
        self.assertEqual(len(got), len(want))
        for (i, name, price, active, added, blob, note), row in zip(want, got):
            self.assertEqual(row[0], str(i))
            self.assertEqual(row[1], md5(name))
            self.assertEqual(float(row[2]), price)
            self.assertEqual(row[3], "1" if active else "0")
            self.assertEqual(row[4], added)
            self.assertEqual(row[5], blob)
            self.assertEqual(row[6], "null" if note is None else md5(note))

    def test_snapshot_then_changes(self):
        self.sync()
        self.assert_items_equal()
        self.assertEqual(self.maria_rows(f"SELECT COUNT(*) FROM {self.database}.pairs"), [["500"]])
        types = dict(tuple(r) for r in self.maria_rows(
            f"SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
            f"WHERE TABLE_SCHEMA = '{self.database}' AND TABLE_NAME = 'items'"))
        self.assertEqual(types["id"], "bigint(20)")
        self.assertEqual(types["price"], "double")
        self.assertEqual(types["active"], "tinyint(1)")
        self.assertEqual(types["added"], "datetime(6)")
        self.assertEqual(types["blob"], "longblob")
        self.assertEqual(types["name"], "longtext")
        pair_types = dict(tuple(r) for r in self.maria_rows(
            f"SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
            f"WHERE TABLE_SCHEMA = '{self.database}' AND TABLE_NAME = 'pairs'"))
        self.assertEqual(pair_types["b"], "varchar(255)")

        db = sqlite3.connect(self.source_path)
        with db:
            db.execute("UPDATE items SET name = 'renamed', price = 99.25 WHERE id % 100 = 0")
            db.execute("DELETE FROM items WHERE id > 2900")
            db.execute("INSERT INTO items VALUES (5000, 'new', 1.5, 1, '2026-02-01 00:00:00',"
                       " NULL, 'n')")
            db.execute("UPDATE items SET id = 6000 WHERE id = 1")  # a key change
            db.execute("DELETE FROM pairs WHERE a = 7")
            db.execute("INSERT INTO pairs VALUES (8, 'K8', 1)")  # differs from 'k8' only by case
        db.close()
        self.sync()
        self.assert_items_equal()
        self.assertEqual(self.maria_rows(f"SELECT COUNT(*) FROM {self.database}.pairs"),
                         [[str(len(self.source_rows("SELECT * FROM pairs")))]])
        checkpoint = self.maria_rows(
            f"SELECT position FROM _megasync_checkpoints WHERE job = '{self.job}'")
        self.assertEqual(len(checkpoint), 1)
        self.assertTrue(checkpoint[0][0])

        # Verification reads MariaDB back: types, timestamps and blobs compare equal.
        verify = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)
        self.maria_rows(f"UPDATE {self.database}.items SET price = -1 WHERE id = 42; "
                        f"DELETE FROM {self.database}.pairs WHERE a = 3 AND b = 'k3'")
        verify = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_FAILED)
        self.assertIn("differ (1): [42]", verify.stdout)
        self.assertIn("missing (1): [3, 'k3']", verify.stdout)
        repair = run_cli(["verify", "--repair", "-c", self.config, self.job], cwd=self.tmp,
                         timeout=120)
        self.assert_exit(repair, EXIT_OK)
        self.assert_items_equal()
        self.assertEqual(self.maria_rows(f"SELECT COUNT(*) FROM {self.database}.pairs"),
                         [[str(len(self.source_rows("SELECT * FROM pairs")))]])


if __name__ == "__main__":
    unittest.main()
