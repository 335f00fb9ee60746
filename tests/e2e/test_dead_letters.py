"""End-to-end test of dead letters: a `database` job from one SQLite file to
another whose table has a CHECK constraint the source's rows can break (a real
permanent refusal by the target). With dead_letter_after, the refused row is
dead-lettered to the state store and the rows behind it are applied; then
`megasync dlq list/show/replay/drop` inspect, replay and drop it."""

import os
import sqlite3
import textwrap
import unittest

from megasync_harness import EXIT_FAILED, EXIT_INVALID, EXIT_OK, DaemonTestCase, run_cli

CHECKED = """
    CREATE TABLE orders(id INTEGER PRIMARY KEY, amount INTEGER CHECK (amount >= 0), note BLOB);
"""


class DeadLetterTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.source_path = os.path.join(self.tmp, "source.db")
        self.target_path = os.path.join(self.tmp, "target.db")
        self.source = sqlite3.connect(self.source_path)
        self.addCleanup(self.source.close)
        self.source.executescript("""
            CREATE TABLE orders(id INTEGER PRIMARY KEY, amount INTEGER, note BLOB);
        """)
        with self.source:
            self.source.executemany(
                "INSERT INTO orders VALUES (?, ?, ?)",
                [(i, -1 if i == 3 else i * 10, b"\x00\xffbin" if i == 3 else b"fine")
                 for i in range(1, 6)])
        target = sqlite3.connect(self.target_path)
        target.executescript(CHECKED)
        target.close()
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
                jobs:
                  replicate:
                    kind: database
                    source: app
                    targets: [replica]
                    dead_letter_after: 2
                    verify_interval: 0
                """))

    def cli(self, *args, code=EXIT_OK):
        result = run_cli(list(args[:2]) + ["-c", self.config] + list(args[2:]), cwd=self.tmp,
                         timeout=120)
        self.assert_exit(result, code)
        return result

    def target_rows(self):
        db = sqlite3.connect(self.target_path)
        try:
            return db.execute("SELECT id, amount FROM orders ORDER BY id").fetchall()
        finally:
            db.close()

    def drop_check(self):
        db = sqlite3.connect(self.target_path)
        try:
            db.executescript("""
                BEGIN;
                CREATE TABLE orders_new(id INTEGER PRIMARY KEY, amount INTEGER, note BLOB);
                INSERT INTO orders_new SELECT * FROM orders;
                DROP TABLE orders;
                ALTER TABLE orders_new RENAME TO orders;
                COMMIT;
            """)
        finally:
            db.close()

    def test_refused_row_is_dead_lettered_listed_replayed_and_dropped(self):
        result = run_cli(["sync", "-c", self.config, "replicate"], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        # The refused row did not block the rows behind it.
        self.assertEqual(self.target_rows(), [(1, 10), (2, 20), (4, 40), (5, 50)])

        listed = self.cli("dlq", "list", "replicate")
        lines = listed.stdout.strip().splitlines()
        self.assertEqual(len(lines), 2, listed.stdout)  # header and one dead letter
        fields = lines[1].split()
        self.assertEqual(fields[0], "1")
        self.assertEqual(fields[2], "replica")
        self.assertEqual(fields[3], "orders")
        self.assertEqual(fields[4], "3")
        self.assertEqual(fields[5], "2")  # attempts
        self.assertIn("CHECK", lines[1])

        shown = self.cli("dlq", "show", "replicate", "1")
        self.assertIn("target:     replica", shown.stdout)
        self.assertIn("amount: -1", shown.stdout)
        self.assertIn("note: 00ff62696e (hex, 5 bytes)", shown.stdout)
        self.assertIn("key:        3", shown.stdout)

        # Still refused: it stays, one attempt more, and the command says so.
        replay = self.cli("dlq", "replay", "replicate", "1", code=EXIT_FAILED)
        self.assertIn("dead letter 1 to replica: not applied (attempts 3)", replay.stderr)
        self.assertEqual(self.cli("dlq", "list", "replicate").stdout.splitlines()[1].split()[5], "3")
        self.assertEqual(self.target_rows(), [(1, 10), (2, 20), (4, 40), (5, 50)])

        # A second refused row, dropped.
        with self.source:
            self.source.execute("INSERT INTO orders VALUES (6, -6, NULL)")
            self.source.execute("INSERT INTO orders VALUES (7, 70, NULL)")
        result = run_cli(["sync", "-c", self.config, "replicate"], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        self.assertEqual(self.target_rows()[-1], (7, 70))
        ids = [line.split()[0] for line in
               self.cli("dlq", "list", "replicate").stdout.strip().splitlines()[1:]]
        self.assertEqual(ids, ["1", "2"])
        unknown = self.cli("dlq", "drop", "replicate", "999", code=EXIT_INVALID)
        self.assertIn("replicate: no dead letter 999", unknown.stderr)
        self.assertIn("megasync dlq list replicate", unknown.stderr)
        self.cli("dlq", "drop", "replicate", "2")
        self.cli("dlq", "show", "replicate", "2", code=EXIT_INVALID)

        # Once the target takes it, replay applies it and removes it.
        self.drop_check()
        replay = self.cli("dlq", "replay", "replicate", "--all")
        self.assertIn("dead letter 1 applied and removed", replay.stdout)
        self.assertEqual(self.target_rows(),
                         [(1, 10), (2, 20), (3, -1), (4, 40), (5, 50), (7, 70)])
        self.assertIn("no dead letters", self.cli("dlq", "list", "replicate").stdout)

    def test_errors_name_the_job_and_what_to_do(self):
        unknown = self.cli("dlq", "list", "nosuch", code=EXIT_INVALID)
        self.assertIn("no job named 'nosuch'", unknown.stderr)
        self.assertIn("replicate", unknown.stderr)
        missing = self.cli("dlq", "replay", "replicate", code=EXIT_INVALID)
        self.assertIn("give dead letter ids", missing.stderr)
        bad = self.cli("dlq", "drop", "replicate", "x1", code=EXIT_INVALID)
        self.assertIn("'x1' is not a dead letter id", bad.stderr)
        self.assertIn("no dead letters", self.cli("dlq", "list", "replicate").stdout)


if __name__ == "__main__":
    unittest.main()
