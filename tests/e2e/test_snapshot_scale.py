"""A 100k-row initial snapshot arrives: `megasync sync` of a `database` job from
one SQLite file to another, then a second run that carries exactly the changes
made since."""

import os
import sqlite3
import textwrap
import unittest

from megasync_harness import EXIT_OK, DaemonTestCase, run_cli

ROWS = 100_000

# Table -> ORDER BY clause (its primary key).
TABLES = {
    "events": "id",
    "tags": "event_id, tag",
}


def event_row(i: int) -> tuple:
    # Every column type the source maps, NULLs included, and values that vary.
    return (i, f"event {i} " + "x" * (i % 37), i * 0.5 if i % 11 else None, i % 2 == 0,
            f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d} {i % 24:02d}:00:00",
            bytes([i % 256, (i // 256) % 256]) * (i % 5) if i % 13 else None)


class SnapshotScaleTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.source_path = os.path.join(self.tmp, "source.db")
        self.target_path = os.path.join(self.tmp, "target.db")
        self.source = sqlite3.connect(self.source_path)
        self.addCleanup(self.source.close)
        self.source.executescript("""
            CREATE TABLE events(id INTEGER PRIMARY KEY, title TEXT NOT NULL, score REAL,
                                flag BOOLEAN, at DATETIME, payload BLOB);
            CREATE TABLE tags(event_id INTEGER, tag TEXT, weight INTEGER,
                              PRIMARY KEY(event_id, tag));
        """)
        with self.source:  # one transaction: fast
            self.source.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                                    (event_row(i) for i in range(1, ROWS + 1)))
            self.source.executemany("INSERT INTO tags VALUES (?, ?, ?)",
                                    ((i, f"t{i % 7}", i % 100) for i in range(1, 20_001)))
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(textwrap.dedent("""\
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
                """))

    def sync(self) -> str:
        result = run_cli(["sync", "-c", self.config, "replicate"], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        return result.stdout

    def rows(self, path: str, table: str) -> list:
        db = sqlite3.connect(path)
        try:
            return db.execute(f"SELECT * FROM {table} ORDER BY {TABLES[table]}").fetchall()
        finally:
            db.close()

    def assert_in_sync(self) -> None:
        for table in TABLES:
            expected = self.rows(self.source_path, table)
            actual = self.rows(self.target_path, table)
            self.assertEqual(len(actual), len(expected), table)
            # Compared row by row so that a failure names the first difference
            # instead of printing 100k rows.
            for want, got in zip(expected, actual):
                self.assertEqual(got, want, table)

    def test_100k_row_snapshot_then_changes(self):
        self.assertIn(f": {ROWS + 20_000} records", self.sync())
        target = sqlite3.connect(self.target_path)
        self.addCleanup(target.close)
        self.assertEqual(target.execute("SELECT count(*) FROM events").fetchone()[0], ROWS)
        self.assertEqual(target.execute("SELECT count(*) FROM tags").fetchone()[0], 20_000)
        self.assert_in_sync()

        with self.source:
            self.source.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                                    (event_row(i) for i in range(ROWS + 1, ROWS + 501)))
            self.source.execute("UPDATE events SET title = 'updated', score = NULL "
                                "WHERE id % 1000 = 0")
            self.source.execute("DELETE FROM events WHERE id BETWEEN 5000 AND 5299")
            self.source.execute("UPDATE tags SET weight = -1 WHERE event_id <= 50")
            self.source.execute("DELETE FROM tags WHERE event_id BETWEEN 100 AND 199")
            # A key change: a delete of the old key and an upsert of the new one.
            self.source.execute("UPDATE tags SET tag = 'renamed' WHERE event_id = 7")
        changes = self.source.execute(
            "SELECT count(*) FROM _megasync_changes WHERE job = 'replicate'").fetchone()[0]
        before = self.rows(self.target_path, "events")

        # One record per logged change: 500 inserts, 100 + 50 updates, 300 + 100
        # deletes, and the key change's delete and upsert.
        self.assertEqual(changes, 1052)
        self.assertIn(f": {changes} records", self.sync())
        self.assert_in_sync()
        self.assertEqual(target.execute("SELECT count(*) FROM events").fetchone()[0],
                         ROWS + 500 - 300)
        # Exactly those changes: rows the source did not touch are unchanged.
        after_events = dict((r[0], r) for r in self.rows(self.target_path, "events"))
        for row in before:
            i = row[0]
            if 5000 <= i <= 5299:
                self.assertNotIn(i, after_events)
            elif i % 1000 == 0:
                self.assertEqual(after_events[i][1:3], ("updated", None))
            else:
                self.assertEqual(after_events[i], row)
        left = self.source.execute(
            "SELECT count(*) FROM _megasync_changes WHERE job = 'replicate'").fetchone()[0]
        self.assertEqual(left, 0)

        self.assertIn(": 0 records", self.sync())  # nothing new
        self.assert_in_sync()


if __name__ == "__main__":
    unittest.main()
