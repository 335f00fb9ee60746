"""Outages around a postgres CDC job, on the harness's pg-c server (the one a
test may stop; see tests/services/pg-ctl.sh):

- the source restarted mid-stream: `megasync run` keeps going, reconnects and
  resumes from the slot, with nothing lost;
- a target down for a minute while the source keeps changing: the slot
  retains the backlog, and once the target is back it drains and every target
  equals the source.

Both tests use pg-c in turn (one test file runs at a time)."""

import os
import sqlite3
import time
import unittest
import uuid

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

CONVERGE_TIMEOUT = 240.0
OUTAGE_SECONDS = 60.0


class PostgresOutageTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg_c = services.pg_c()
        self.suffix = uuid.uuid4().hex[:10]
        self.schema = "o_" + self.suffix
        self.job = "outage_" + self.suffix
        # Whatever happens, pg-c is up again for the next test.
        self.addCleanup(services.pg_ctl, "pg-c", "start")

    def make_source(self, conn: services.Conn) -> None:
        slot = "megasync_" + self.job
        services.psql(conn, f"""
            CREATE SCHEMA {self.schema};
            CREATE TABLE {self.schema}.events(id bigint PRIMARY KEY, body text, n int);
            INSERT INTO {self.schema}.events SELECT i, 'event ' || i, 0
              FROM generate_series(1, 20000) i;
        """)
        self.addCleanup(services.psql, conn, f"DROP SCHEMA {self.schema} CASCADE")
        self.addCleanup(services.drop_slot, conn, slot)

    def make_target_schema(self, conn: services.Conn) -> None:
        services.psql(conn, f"CREATE SCHEMA {self.schema}")
        self.addCleanup(services.psql, conn, f"DROP SCHEMA {self.schema} CASCADE; DELETE FROM "
                        f"_megasync_checkpoints WHERE job = '{self.job}'")

    def config(self, source: services.Conn, target: services.Conn):
        def write(port: int) -> str:
            return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
endpoints:
  app:
    type: postgres
    url: "{source.url}"
  backup:
    type: postgres
    url: "{target.url}"
  replica:
    type: sqlite
    path: replica.db
    create: true
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [backup, replica]
    tables: [{self.schema}.events]
    interval: 1s
    retry:
      initial_backoff: 200ms
      max_backoff: 2s
"""
        return write

    def source_rows(self, conn) -> list:
        return services.psql(conn, f"SELECT id, body, n FROM {self.schema}.events ORDER BY id")

    def replica_rows(self) -> list:
        path = os.path.join(self.tmp, "replica.db")
        if not os.path.exists(path):
            return []
        db = sqlite3.connect(path)
        try:
            return [[str(v) for v in row] for row in db.execute(
                f'SELECT id, body, n FROM "{self.schema}.events" ORDER BY id')]
        except sqlite3.OperationalError:
            return []  # not created yet
        finally:
            db.close()

    def target_rows(self, conn) -> list:
        try:
            return self.source_rows(conn)
        except services.SqlError:
            return []  # the table is not there yet, or the server is down

    def wait_converged(self, source, target, d) -> None:
        want = self.source_rows(source)
        wait_for(lambda: self.replica_rows() == want and self.target_rows(target) == want,
                 CONVERGE_TIMEOUT, f"every target equal to the source\n{d.stderr()[-3000:]}",
                 interval=0.5)

    def test_source_restarted_mid_stream(self):
        source, target = self.pg_c, services.pg_b()
        self.make_source(source)
        self.make_target_schema(target)
        d = self.start_daemon(self.config(source, target))
        self.wait_converged(source, target, d)
        # A large transaction, and the server restarted while it streams.
        services.psql(source, f"UPDATE {self.schema}.events SET n = n + 1; INSERT INTO "
                              f"{self.schema}.events SELECT i, 'late ' || i, 1 "
                              f"FROM generate_series(20001, 60000) i")
        services.pg_ctl("pg-c", "restart")
        services.psql(source, f"DELETE FROM {self.schema}.events WHERE id % 7 = 0; UPDATE "
                              f"{self.schema}.events SET body = 'after restart' WHERE id % 5 = 0")
        self.wait_converged(source, target, d)
        self.assertTrue(d.alive(), d.stderr())
        self.assertEqual(d.stop(), EXIT_OK, d.stderr())
        verify = run_cli(["verify", "-c", d.config_path, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(verify, EXIT_OK)

    def test_target_down_for_a_minute(self):
        source, target = services.pg_a(), self.pg_c
        self.make_source(source)
        self.make_target_schema(target)
        d = self.start_daemon(self.config(source, target))
        self.wait_converged(source, target, d)
        services.pg_ctl("pg-c", "stop")
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < OUTAGE_SECONDS:
            i += 1
            services.psql(source, f"UPDATE {self.schema}.events SET n = n + 1 "
                                  f"WHERE id % 10 = {i % 10}; INSERT INTO {self.schema}.events "
                                  f"SELECT 100000 * {i} + g, 'during', {i} "
                                  f"FROM generate_series(1, 500) g")
            time.sleep(1)  # a steady trickle of writes through the outage
        # The slot held the backlog while the target was away.
        lag = services.psql(source, f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), "
                                    f"confirmed_flush_lsn) FROM pg_replication_slots "
                                    f"WHERE slot_name = 'megasync_{self.job}'")
        self.assertGreater(float(lag[0][0]), 0)
        self.assertTrue(d.alive(), d.stderr())
        services.pg_ctl("pg-c", "start")
        self.wait_converged(source, target, d)
        self.assertEqual(d.stop(), EXIT_OK, d.stderr())
        verify = run_cli(["verify", "-c", d.config_path, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(verify, EXIT_OK)


if __name__ == "__main__":
    unittest.main()
