"""End-to-end tests of `megasync verify`: a planted difference in a SQLite replica
and in a mirrored folder is reported (exit 1, the keys and paths named), and
`--repair` fixes exactly that (exit 0, a second verify finds them equal)."""

import json
import os
import sqlite3
import textwrap
import unittest

from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli

CONFIG = """\
state:
  path: state.db
endpoints:
  app:
    type: sqlite
    path: source.db
  replica:
    type: sqlite
    path: replica.db
    create: true
  assets:
    type: fs
    path: assets
  mirror:
    type: fs
    path: mirror
    create: true
jobs:
  rows:
    kind: database
    source: app
    targets: [replica]
    transforms:
      - type: mask
        collection: users
        fields: [email]
        with: partial
        keep_last: 4
  files:
    kind: storage
    source: assets
    target: mirror
    delete: true
"""


class VerifyTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG)
        db = sqlite3.connect(os.path.join(self.tmp, "source.db"))
        with db:
            db.executescript("""
                CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, active BOOLEAN);
                CREATE TABLE visits(user_id INTEGER, day TEXT, n INTEGER,
                                    PRIMARY KEY(user_id, day));
            """)
            db.executemany("INSERT INTO users VALUES (?, ?, ?)",
                           [(i, f"user{i}@example.com", i % 2 == 0) for i in range(1, 3001)])
            db.executemany("INSERT INTO visits VALUES (?, ?, ?)",
                           [(i // 28 + 1, f"2026-01-{i % 28 + 1:02d}", i) for i in range(5000)])
        db.close()
        for i in range(30):
            path = os.path.join(self.tmp, "assets", f"dir{i % 3}", f"file{i}.txt")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(f"asset {i}\n" * (i + 1))

    def cli(self, *args: str):
        return run_cli(list(args), cwd=self.tmp, timeout=120)

    def verify(self, job: str, *flags: str):
        return self.cli("verify", "-c", self.config, *flags, job)

    def replica(self, sql: str) -> None:
        db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
        with db:
            db.executescript(sql)
        db.close()

    def test_records_difference_is_reported_then_repaired(self):
        self.assert_exit(self.cli("sync", "-c", self.config, "rows"), EXIT_OK)
        self.assert_exit(self.verify("rows"), EXIT_OK)

        self.replica("""
            DELETE FROM users WHERE id = 17;
            UPDATE users SET active = 1 - active WHERE id = 2500;
            INSERT INTO users VALUES (99999, 'intruder', 0);
            UPDATE visits SET n = -1 WHERE user_id = 5 AND day = '2026-01-06';
        """)
        result = self.verify("rows", "--json")
        self.assert_exit(result, EXIT_FAILED)
        doc = json.loads(result.stdout)
        self.assertFalse(doc["equal"])
        users = doc["targets"]["replica"]["collections"]["users"]
        self.assertEqual(users["missing_keys"], ["[17]"])
        self.assertEqual(users["differ_keys"], ["[2500]"])
        self.assertEqual(users["extra_keys"], ["[99999]"])
        visits = doc["targets"]["replica"]["collections"]["visits"]
        self.assertEqual(visits["differ_keys"], ["[5, '2026-01-06']"])
        self.assertEqual(visits["source_rows"], visits["target_rows"])

        text = self.verify("rows")
        self.assert_exit(text, EXIT_FAILED)
        self.assertIn("missing (1): [17]", text.stdout)
        self.assertIn("--repair", text.stdout)

        repaired = self.verify("rows", "--repair")
        self.assert_exit(repaired, EXIT_OK)
        self.assertIn("repaired: 4 changes applied; now equal", repaired.stdout)
        self.assert_exit(self.verify("rows"), EXIT_OK)

    def test_objects_difference_is_reported_then_repaired(self):
        self.assert_exit(self.cli("sync", "-c", self.config, "files"), EXIT_OK)
        self.assert_exit(self.verify("files"), EXIT_OK)
        mirror = os.path.join(self.tmp, "mirror")
        os.remove(os.path.join(mirror, "dir0", "file3.txt"))
        with open(os.path.join(mirror, "dir1", "file4.txt"), "w") as f:
            f.write("tampered, a different size\n")
        with open(os.path.join(mirror, "stray.txt"), "w") as f:
            f.write("not in the source\n")

        result = self.verify("files", "--json")
        self.assert_exit(result, EXIT_FAILED)
        doc = json.loads(result.stdout)["targets"]["mirror"]
        self.assertEqual(doc["missing"], ["dir0/file3.txt"])
        self.assertEqual(doc["differ"], ["dir1/file4.txt"])
        self.assertEqual(doc["extra"], ["stray.txt"])

        self.assert_exit(self.verify("files", "--repair"), EXIT_OK)
        self.assert_exit(self.verify("files"), EXIT_OK)
        with open(os.path.join(mirror, "dir1", "file4.txt")) as f:
            self.assertEqual(f.read(), "asset 4\n" * 5)

    def test_unknown_job_is_a_usage_error(self):
        result = self.verify("nope")
        self.assert_exit(result, 2)
        self.assertIn("no job named 'nope' (jobs: rows, files)", result.stderr)


if __name__ == "__main__":
    unittest.main()
