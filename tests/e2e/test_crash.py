"""Crash safety: while `megasync run` syncs a 200k-row table and a 2000-file tree,
it is killed with SIGKILL at random moments and restarted each time. The mirror
never shows a partially written file, and in the end both targets equal their
sources (compared here and by `megasync verify`).

The kill moments come from a seeded random generator; the seed is printed, and
MEGASYNC_CRASH_SEED=<seed> replays a run. Everything else is deterministic.
"""

import hashlib
import os
import random
import sqlite3
import sys
import time
import unittest

from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

ROWS = 200_000
FILES = 2000
KILLS = 10
# The first kills land in the initial snapshot and file copy; the others once
# the snapshot is done, in the change-capture path (a restart resumes from the
# checkpoint with a backlog of changes to apply).
EARLY_KILLS = 5
KILL_DELAY = (0.2, 3.0)  # seconds after /readyz

# The sanitizer build on a 2-core machine is slow; these are deadlines, not sleeps.
SNAPSHOT_TIMEOUT = 240.0
CONVERGE_TIMEOUT = 180.0

SCRATCH_PREFIXES = (".megasync-tmp-", ".megasync-probe-")


def config(port: int) -> str:
    return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
endpoints:
  app:
    type: sqlite
    path: source.db
    busy_timeout: 30s
  replica:
    type: sqlite
    path: target.db
    create: true
  tree:
    type: fs
    path: source
    read_only: true
  backup:
    type: fs
    path: mirror
    create: true
jobs:
  rows:
    kind: database
    source: app
    targets: [replica]
    interval: 1s
  files:
    kind: storage
    source: tree
    target: backup
    interval: 1s
    delete: true
"""


def file_size(rng: random.Random, i: int) -> int:
    # Mostly small files, one in 25 up to 1 MiB so that kills land mid-write.
    if i % 25 == 0:
        return rng.randint(256 * 1024, 1024 * 1024)
    return rng.choice((0, 1, rng.randint(2, 512), rng.randint(512, 16 * 1024)))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CrashTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        seed = os.environ.get("MEGASYNC_CRASH_SEED")
        self.seed = int(seed) if seed else random.SystemRandom().randrange(2**32)
        print(f"\n[test_crash] seed {self.seed} (MEGASYNC_CRASH_SEED={self.seed} replays it)",
              file=sys.stderr, flush=True)
        self.kill_rng = random.Random(self.seed)
        self.data_rng = random.Random(20261128)  # fixed: the data never depends on the seed

        self.source_db = os.path.join(self.tmp, "source.db")
        self.target_db = os.path.join(self.tmp, "target.db")
        self.source_dir = os.path.join(self.tmp, "source")
        self.mirror_dir = os.path.join(self.tmp, "mirror")

        # WAL: the test's writes do not wait for the snapshot's read transaction.
        self.db = sqlite3.connect(self.source_db, timeout=30, isolation_level=None)
        self.addCleanup(self.db.close)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                        "qty INTEGER, price REAL, note TEXT)")
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)",
                            ((i, f"item {i}", i % 1000, i * 0.25,
                              None if i % 17 == 0 else "n" * (i % 40))
                             for i in range(1, ROWS + 1)))
        self.db.execute("COMMIT")
        self.next_id = ROWS + 1

        # path -> every content the mirror may show for it (old and new versions).
        self.allowed: dict = {}
        self.current: dict = {}  # path -> the source's content now
        for i in range(FILES):
            path = f"d{i % 10}/s{i % 7}/f{i:04d}.bin"
            self.put(path, self.data_rng.randbytes(file_size(self.data_rng, i)))

    # -- the sources -----------------------------------------------------------

    def put(self, path: str, data: bytes) -> None:
        full = os.path.join(self.source_dir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        self.current[path] = data
        self.allowed.setdefault(path, set()).add(sha(data))

    def drop(self, path: str) -> None:
        os.remove(os.path.join(self.source_dir, path))
        del self.current[path]

    def change_rows(self, round_no: int, *, heavy: bool) -> None:
        """Inserts, updates and deletes spread over the table; `heavy` makes a
        backlog of changes that a streaming run takes a while to apply."""
        rng = self.data_rng
        size = 8000 if heavy else 500
        self.db.execute("BEGIN")
        first = self.next_id
        self.db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)",
                            ((i, f"new {round_no} {i}", round_no, None, "ins")
                             for i in range(first, first + size // 4)))
        self.next_id += size // 4
        # Low ids too: those reached the target early in an interrupted snapshot.
        low = rng.randint(1, 5000)
        self.db.execute("DELETE FROM items WHERE id BETWEEN ? AND ?", (low, low + size // 20))
        self.db.execute("DELETE FROM items WHERE id % 997 = ?", (round_no,))
        start = rng.randint(1, ROWS - size)
        self.db.execute("UPDATE items SET qty = qty + 1, note = ? WHERE id BETWEEN ? AND ?",
                        (f"upd {round_no}", start, start + size // 2))
        # A key change: a delete of the old key and an upsert of the new one.
        old = rng.randint(5001, ROWS)
        self.db.execute("UPDATE items SET id = ? WHERE id = ?", (self.next_id, old))
        self.next_id += 1
        self.db.execute("COMMIT")

    def change_files(self, round_no: int) -> None:
        """Replaces a few files (some large) and deletes one."""
        rng = self.data_rng
        paths = sorted(self.current)
        for path in rng.sample(paths, 3) + [paths[(round_no * 25) % len(paths)]]:
            size = rng.randint(1, 1024 * 1024) if rng.random() < 0.5 else rng.randint(1, 4096)
            self.put(path, rng.randbytes(size))
        self.drop(rng.choice(sorted(self.current)))

    # -- observations ------------------------------------------------------------

    def scan_mirror(self, when: str) -> list:
        """Asserts that every visible file is a whole version of its source;
        returns the scratch files (temp, probe) found."""
        scratch = []
        if not os.path.isdir(self.mirror_dir):
            return scratch
        for dirpath, dirnames, filenames in os.walk(self.mirror_dir):
            if dirpath == self.mirror_dir and ".megasync-versions" in dirnames:
                dirnames.remove(".megasync-versions")
            for name in filenames:
                full = os.path.join(dirpath, name)
                relative = os.path.relpath(full, self.mirror_dir)
                if name.startswith(SCRATCH_PREFIXES):
                    scratch.append(relative)
                    continue
                with open(full, "rb") as f:
                    digest = sha(f.read())
                self.assertIn(relative, self.allowed, f"{when}: unexpected file {relative}")
                self.assertIn(digest, self.allowed[relative],
                              f"{when}: {relative} is not a whole version of its source "
                              f"(a partially written file?) seed {self.seed}")
        return scratch

    def rows_of(self, path: str) -> list:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT * FROM items ORDER BY id").fetchall()
        finally:
            db.close()

    def phases(self, d) -> str:
        """Where each job is, for the log of a kill."""
        out = []
        for job in ("rows", "files"):
            try:
                doc = d.job(job)
            except (OSError, AssertionError) as e:
                out.append(f"{job}=? ({e!r})")
                continue
            current = doc.get("current_run")
            if current:
                p = current.get("progress") or {}
                out.append(f"{job}=run {current['id']} {p.get('phase')} "
                           f"{p.get('records')} records {p.get('bytes')} bytes")
            else:
                out.append(f"{job}=idle")
        return ", ".join(out)

    def succeeded_since_start(self, d, job: str) -> bool:
        last = d.job(job)["last_run"]  # the daemon's own runs only
        return bool(last) and last["outcome"] == "succeeded"

    # -- the test ------------------------------------------------------------------

    def log(self, message: str) -> None:
        print(f"[test_crash] {time.monotonic() - self.t0:6.1f} s: {message}", file=sys.stderr,
              flush=True)

    def test_sigkill_at_random_moments(self):
        self.t0 = time.monotonic()
        d = self.start_daemon(config)
        scratch_seen = {}  # kill -> how many temp or probe files the mirror had after it
        for kill in range(1, KILLS + 1):
            if kill == EARLY_KILLS + 1:
                # The snapshot restarts after every kill; let one complete so that
                # the remaining kills land in the change-capture path.
                wait_for(lambda: self.succeeded_since_start(d, "rows"), SNAPSHOT_TIMEOUT,
                         f"a complete run of rows (seed {self.seed})", interval=0.2)
                self.log("the snapshot is complete")
                self.change_rows(kill, heavy=True)
            # Writes while the run is in flight: the snapshot's seam and the log.
            self.change_rows(kill, heavy=False)
            delay = self.kill_rng.uniform(*KILL_DELAY)
            time.sleep(delay)  # the deliberate random moment of the kill
            where = self.phases(d)
            self.assertTrue(d.alive(), f"the daemon died on its own; log:\n{d.stderr()}")
            d.kill()
            scratch = self.scan_mirror(f"after kill {kill} (seed {self.seed})")
            scratch_seen[kill] = len(scratch)
            self.log(f"kill {kill} at {delay:.2f} s: {where}; scratch files in the mirror: "
                     f"{len(scratch)}")
            # Changes while the daemon is down, then a restart.
            self.change_rows(kill, heavy=kill > EARLY_KILLS)
            self.change_files(kill)
            d.start()

        # The sources stay as they are now: wait for a successful run of each
        # job in this last daemon's life, which started after every change.
        for job in ("rows", "files"):
            wait_for(lambda: self.succeeded_since_start(d, job), CONVERGE_TIMEOUT,
                     f"a successful run of {job} after the last restart (seed {self.seed})",
                     interval=0.2)
            self.log(f"{job} succeeded after the last restart")
        self.assertEqual(d.stop(), EXIT_OK, d.stderr())

        # (a) Compared here; each check reports on its own (subTest), so that one
        # difference does not hide another.
        with self.subTest("rows: target table equals source table"):
            source_rows = self.rows_of(self.source_db)
            target_rows = self.rows_of(self.target_db)
            source_ids = {r[0] for r in source_rows}
            target_ids = {r[0] for r in target_rows}
            self.assertEqual(
                len(target_rows), len(source_rows),
                f"missing {sorted(source_ids - target_ids)[:20]}, "
                f"extra {sorted(target_ids - source_ids)[:20]} (seed {self.seed})")
            for want, got in zip(source_rows, target_rows):
                self.assertEqual(got, want, f"seed {self.seed}")

        with self.subTest("files: mirror equals source tree"):
            self.scan_mirror(f"at the end (seed {self.seed})")
            mirrored = set()
            for dirpath, dirnames, filenames in os.walk(self.mirror_dir):
                if dirpath == self.mirror_dir and ".megasync-versions" in dirnames:
                    dirnames.remove(".megasync-versions")
                for name in filenames:
                    if not name.startswith(SCRATCH_PREFIXES):
                        mirrored.add(os.path.relpath(os.path.join(dirpath, name),
                                                     self.mirror_dir))
            self.assertEqual(sorted(mirrored), sorted(self.current), f"seed {self.seed}")
            for path, data in self.current.items():
                with open(os.path.join(self.mirror_dir, path), "rb") as f:
                    self.assertEqual(sha(f.read()), sha(data), f"{path} (seed {self.seed})")

        with self.subTest("files: no temp or probe files left"):
            # A kill in the middle of a write leaves its temp file; a restart
            # should clean them up (not done by megasync at the time of writing).
            self.assertEqual(self.scan_mirror("at the end"), [],
                             f"after each kill: {scratch_seen} (seed {self.seed})")

        # (b) Compared by megasync itself.
        for job in ("rows", "files"):
            with self.subTest(f"megasync verify {job}"):
                result = run_cli(["verify", "-c", d.config_path, job], cwd=self.tmp,
                                 timeout=300)
                self.assert_exit(result, EXIT_OK)


if __name__ == "__main__":
    unittest.main()
