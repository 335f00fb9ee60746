"""End-to-end test of record sync: a `database` job from one SQLite file to another,
with a mask transform, run through `megasync sync` (snapshot, then changes)."""

import hashlib
import hmac
import os
import sqlite3
import textwrap
import unittest

from megasync_harness import EXIT_OK, DaemonTestCase, run_cli

MASK_KEY = "e2e-mask-key"

TABLES = {
    "customers": "id",
    "orders": "id",
    "order_lines": "order_id, line",
}


def masked(email):
    if email is None:
        return None
    return hmac.new(MASK_KEY.encode(), email.encode(), hashlib.sha256).hexdigest()


class RecordSyncTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.source_path = os.path.join(self.tmp, "source.db")
        self.target_path = os.path.join(self.tmp, "target.db")
        self.source = sqlite3.connect(self.source_path)
        self.addCleanup(self.source.close)
        self.source.executescript("""
            CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
            CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL,
                                status VARCHAR(20), created DATETIME);
            CREATE TABLE order_lines(order_id INTEGER, line INTEGER, sku TEXT, qty INTEGER,
                                     PRIMARY KEY(order_id, line));
        """)
        with self.source:
            self.source.executemany(
                "INSERT INTO customers VALUES (?, ?, ?)",
                [(i, f"customer {i}", None if i % 50 == 0 else f"c{i}@example.com")
                 for i in range(1, 1001)])
            self.source.executemany(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                [(i, i % 1000 + 1, i * 1.25, "paid" if i % 3 else "open",
                  f"2024-01-{i % 28 + 1:02d} 10:00:00") for i in range(1, 2001)])
            self.source.executemany(
                "INSERT INTO order_lines VALUES (?, ?, ?, ?)",
                [(i // 3 + 1, i % 3, f"sku-{i % 97}", i % 7) for i in range(3000)])
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(textwrap.dedent(f"""\
                state:
                  path: state.db
                endpoints:
                  app:
                    type: sqlite
                    path: source.db
                  replica:
                    type: sqlite
                    path: target.db
                    create: true
                jobs:
                  replicate:
                    kind: database
                    source: app
                    targets: [replica]
                    tables: [customers, "order*"]
                    transforms:
                      - type: mask
                        collection: customers
                        fields: [email]
                        with: hmac
                        key: {MASK_KEY}
                """))

    def sync(self):
        result = run_cli(["sync", "-c", self.config, "replicate"], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)

    def rows(self, path, table):
        db = sqlite3.connect(path)
        try:
            return db.execute(f"SELECT * FROM {table} ORDER BY {TABLES[table]}").fetchall()
        finally:
            db.close()

    def assert_in_sync(self):
        for table in TABLES:
            expected = self.rows(self.source_path, table)
            if table == "customers":
                expected = [(i, name, masked(email)) for i, name, email in expected]
            actual = self.rows(self.target_path, table)
            self.assertEqual(len(actual), len(expected), table)
            self.assertEqual(actual, expected, table)

    def test_snapshot_then_changes(self):
        self.sync()
        self.assert_in_sync()
        target = sqlite3.connect(self.target_path)
        self.addCleanup(target.close)
        email = target.execute("SELECT email FROM customers WHERE id = 1").fetchone()[0]
        self.assertNotEqual(email, "c1@example.com")
        self.assertEqual(email, masked("c1@example.com"))

        with self.source:
            self.source.execute("INSERT INTO customers VALUES (2001, 'new', 'new@example.com')")
            self.source.execute("UPDATE customers SET email = 'moved@example.com' WHERE id = 7")
            self.source.execute("DELETE FROM customers WHERE id = 8")
            self.source.execute("UPDATE orders SET status = 'refunded', amount = 0 WHERE id < 20")
            self.source.execute("DELETE FROM orders WHERE id BETWEEN 100 AND 150")
            # A key change: a delete of the old key and an upsert of the new one.
            self.source.execute("UPDATE order_lines SET line = 9 WHERE order_id = 5 AND line = 1")
            self.source.executemany("INSERT INTO order_lines VALUES (?, 0, 'extra', 1)",
                                    [(5000 + i,) for i in range(1500)])
        self.sync()
        self.assert_in_sync()

        # Every consumed change was pruned from the log once the target had it.
        left = self.source.execute(
            "SELECT count(*) FROM _megasync_changes WHERE job = 'replicate'").fetchone()[0]
        self.assertEqual(left, 0)
        state = sqlite3.connect(os.path.join(self.tmp, "state.db"))
        self.addCleanup(state.close)
        checkpoints = state.execute("SELECT target FROM checkpoints").fetchall()
        self.assertEqual(checkpoints, [("replica",)])

        # Nothing new: the next run changes nothing.
        self.sync()
        self.assert_in_sync()


if __name__ == "__main__":
    unittest.main()
