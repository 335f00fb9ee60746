"""A job removed from the configuration leaves its replication slot, which
retains WAL until dropped: the daemon reports it (source.slot_orphaned) and
keeps it, or, started with `--drop-slots`, drops it with its publication
(source.slot_dropped) and forgets the job's checkpoints — at start, and when a
reload removes the job."""

import os
import unittest
import uuid

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for


class PostgresDropSlotsTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        suffix = uuid.uuid4().hex[:10]
        self.schema = s = "ds_" + suffix
        self.job = "gone_" + suffix
        self.slot = "megasync_" + self.job
        services.psql(self.pg, f"""
            CREATE SCHEMA {s};
            CREATE TABLE {s}.items(id bigint PRIMARY KEY, name text);
            INSERT INTO {s}.items SELECT i, 'item ' || i FROM generate_series(1, 50) i;
        """)
        self.addCleanup(services.psql, self.pg, f"DROP SCHEMA {s} CASCADE")
        self.addCleanup(services.drop_slot, self.pg, self.slot)
        self.addCleanup(services.psql, self.pg, f"DROP PUBLICATION IF EXISTS {self.slot}")

    def config(self, port: int = 0, with_job: bool = True) -> str:
        api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
        job = f"""\
  {self.job}:
    kind: database
    source: app
    targets: [replica]
    tables: [{self.schema}.items]
    interval: 1h
""" if with_job else ""
        # A job that stays, so the file is never without jobs.
        return f"""\
state:
  path: state.db
{api}endpoints:
  app:
    type: postgres
    url: "{self.pg.url}"
  replica:
    type: sqlite
    path: replica.db
    create: true
  files_in:
    type: fs
    path: in
    create: true
  files_out:
    type: fs
    path: out
    create: true
jobs:
{job}  stays:
    kind: storage
    source: files_in
    target: files_out
    interval: 1h
"""

    def slot_exists(self) -> bool:
        return services.psql(self.pg, f"SELECT count(*) FROM pg_replication_slots "
                                      f"WHERE slot_name = '{self.slot}'") == [["1"]]

    def publication_exists(self) -> bool:
        return services.psql(self.pg, f"SELECT count(*) FROM pg_publication "
                                      f"WHERE pubname = '{self.slot}'") == [["1"]]

    def checkpoints(self, d) -> int:
        db = self.state_db(d)
        return db.execute("SELECT count(*) FROM checkpoints WHERE job = ?",
                          (self.job,)).fetchone()[0]

    def events_of(self, d, kind: str) -> list:
        return [e for e in d.events() if e["type"] == kind and e["job"] == self.job]

    def first_sync(self) -> None:
        path = os.path.join(self.tmp, "megasync.yaml")
        with open(path, "w") as f:
            f.write(self.config())
        self.assert_exit(run_cli(["sync", "-c", path, self.job], cwd=self.tmp, timeout=120),
                         EXIT_OK)
        self.assertTrue(self.slot_exists())

    def test_a_removed_job_is_reported_then_dropped_with_the_flag(self):
        self.first_sync()
        d = self.start_daemon(lambda port: self.config(port, with_job=False))
        orphaned = wait_for(lambda: self.events_of(d, "source.slot_orphaned"), 60,
                            "a source.slot_orphaned event", interval=0.2)
        self.assertEqual(orphaned[0]["endpoint"], "app")
        self.assertIn(self.slot, " ".join(orphaned[0]["data"]["retained"]))
        self.assertIn("--drop-slots", d.stderr())
        self.assertTrue(self.slot_exists())  # reported, not dropped
        self.assertGreater(self.checkpoints(d), 0)
        self.assertEqual(d.stop(), EXIT_OK)

        d = self.start_daemon(lambda port: self.config(port, with_job=False),
                              args=["--drop-slots"])
        dropped = wait_for(lambda: self.events_of(d, "source.slot_dropped"), 60,
                           "a source.slot_dropped event", interval=0.2)
        self.assertEqual(dropped[0]["endpoint"], "app")
        self.assertFalse(self.slot_exists())
        self.assertFalse(self.publication_exists())
        wait_for(lambda: self.checkpoints(d) == 0, 30, "the job's checkpoints forgotten",
                 interval=0.2)
        self.assertEqual(d.stop(), EXIT_OK)

    def test_a_job_removed_by_a_reload_loses_its_slot_with_the_flag(self):
        d = self.start_daemon(lambda port: self.config(port), args=["--drop-slots"])
        wait_for(lambda: self.slot_exists() and self.checkpoints(d) > 0, 60,
                 "the job's first run", interval=0.2)
        d.write_config(self.config(d.port, with_job=False))
        d.sighup()
        wait_for(lambda: self.events_of(d, "source.slot_dropped"), 60,
                 "a source.slot_dropped event", interval=0.2)
        self.assertFalse(self.slot_exists())
        self.assertEqual(d.stop(), EXIT_OK)

    def test_a_job_still_configured_keeps_its_slot(self):
        # Two jobs synced once; then one is disabled (still configured) and the
        # other removed: only the removed one's slot goes.
        other = "gone2_" + self.job[5:]
        other_slot = "megasync_" + other
        self.addCleanup(services.drop_slot, self.pg, other_slot)
        self.addCleanup(services.psql, self.pg, f"DROP PUBLICATION IF EXISTS {other_slot}")
        second = f"""\
  {other}:
    kind: database
    source: app
    targets: [replica]
    tables: [{self.schema}.items]
    interval: 1h
"""
        path = os.path.join(self.tmp, "megasync.yaml")
        with open(path, "w") as f:
            f.write(self.config().replace("jobs:\n", "jobs:\n" + second))
        for job in (self.job, other):
            self.assert_exit(run_cli(["sync", "-c", path, job], cwd=self.tmp, timeout=120),
                             EXIT_OK)
        d = self.start_daemon(
            lambda port: self.config(port).replace("interval: 1h\n",
                                                   "interval: 1h\n    enabled: false\n", 1),
            args=["--drop-slots"])
        wait_for(lambda: [e for e in d.events() if e["type"] == "source.slot_dropped" and
                          e["job"] == other], 60, "the removed job's slot dropped", interval=0.2)
        self.assertTrue(self.slot_exists())
        self.assertEqual(self.events_of(d, "source.slot_dropped"), [])
        self.assertEqual(d.stop(), EXIT_OK)

if __name__ == "__main__":
    unittest.main()
