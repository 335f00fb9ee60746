"""`stream: true`: a database job from a postgres CDC source applies changes as
they arrive, within a run that stays open for the job's interval; the next run
then begins at once, and `megasync sync` of the same job stops once caught up.
Bad combinations (no interval, a timeout not longer than the interval) are
refused at check."""

import os
import time
import unittest
import uuid

import services
from megasync_harness import (EXIT_INVALID, EXIT_OK, DaemonTestCase, run_cli, wait_for)


class PostgresStreamTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.pg_b = services.pg_b()
        suffix = uuid.uuid4().hex[:10]
        self.schema = s = "st_" + suffix
        self.job = "stream_" + suffix
        services.cdc_scratch(self, self.pg, self.pg_b, s, self.job, f"""
            CREATE TABLE {s}.items(id bigint PRIMARY KEY, name text);
            INSERT INTO {s}.items SELECT i, 'item ' || i FROM generate_series(1, 100) i;
        """)

    def config(self, port: int = 0, interval: str = "6s", timeout: str = "2m") -> str:
        api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
        return f"""\
state:
  path: state.db
{api}endpoints:
  app:
    type: postgres
    url: "{self.pg.url}"
  backup:
    type: postgres
    url: "{self.pg_b.url}"
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [backup]
    tables: [{self.schema}.items]
    interval: {interval}
    timeout: {timeout}
    stream: true
    verify_interval: 0s
"""

    def count(self, conn) -> int:
        try:
            return int(services.psql(conn, f"SELECT count(*) FROM {self.schema}.items")[0][0])
        except services.SqlError:
            return -1  # the table is not there yet

    def test_changes_arrive_while_the_run_is_open_and_runs_follow_each_other(self):
        # A long interval: without streaming, a change made after the snapshot
        # would wait for the next run, a minute later.
        d = self.start_daemon(lambda port: self.config(port, interval="60s"))
        wait_for(lambda: self.count(self.pg_b) == 100, 60, "the snapshot", interval=0.2)
        services.psql(self.pg, f"INSERT INTO {self.schema}.items VALUES (101, 'streamed')")
        started = time.monotonic()
        wait_for(lambda: self.count(self.pg_b) == 101, 20, "the streamed insert", interval=0.1)
        self.assertLess(time.monotonic() - started, 20)
        runs = d.runs(self.job)
        self.assertEqual(len(runs), 1, runs)
        self.assertIsNone(runs[0].get("finished_at"), runs[0])  # still the first run
        d.stop()

    def test_a_run_ends_after_its_interval_and_the_next_begins(self):
        d = self.start_daemon(lambda port: self.config(port, interval="3s"))
        wait_for(lambda: len([r for r in d.runs(self.job) if r["outcome"] == "succeeded"]) >= 2,
                 60, "two streaming runs that ended", interval=0.3)
        # Each run streamed, so a change made now arrives without a new snapshot.
        services.psql(self.pg, f"UPDATE {self.schema}.items SET name = 'changed' WHERE id = 7")
        wait_for(lambda: services.psql(
            self.pg_b, f"SELECT name FROM {self.schema}.items WHERE id = 7") == [["changed"]],
            30, "the update", interval=0.2)
        self.assertEqual(d.stop(), EXIT_OK)

    def test_sync_of_a_streaming_job_stops_once_caught_up(self):
        path = os.path.join(self.tmp, "megasync.yaml")
        with open(path, "w") as f:
            f.write(self.config(interval="10m", timeout="20m"))
        started = time.monotonic()
        result = run_cli(["sync", "-c", path, self.job], cwd=self.tmp, timeout=120)
        self.assert_exit(result, EXIT_OK)
        self.assertLess(time.monotonic() - started, 120)
        self.assertEqual(self.count(self.pg_b), 100)

    def test_bad_stream_settings_are_refused(self):
        path = os.path.join(self.tmp, "megasync.yaml")
        for interval, timeout, fix in (("0", "1m", "give the job an interval"),
                                       ("1m", "30s", "must be longer")):
            with open(path, "w") as f:
                f.write(self.config(interval=interval, timeout=timeout))
            result = run_cli(["check", "-c", path], cwd=self.tmp)
            self.assert_exit(result, EXIT_INVALID)
            self.assertIn(self.job, result.stderr + result.stdout)
            self.assertIn(fix, result.stderr + result.stdout)


if __name__ == "__main__":
    unittest.main()
