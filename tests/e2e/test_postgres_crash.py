"""Crash safety of the PostgreSQL source: while a writer keeps inserting,
updating, re-keying and deleting rows on the source, `megasync run` is killed
with SIGKILL at 10 random moments and restarted each time; afterwards every
target (PostgreSQL, MariaDB and SQLite) equals the source, compared here and by
`megasync verify`.

The kill moments come from a seeded random generator; the seed is printed and
MEGASYNC_CRASH_SEED=<seed> replays a run."""

import os
import random
import sqlite3
import subprocess
import sys
import time
import unittest
import uuid

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

ROWS = 20_000
KILLS = 10
KILL_DELAY = (0.3, 2.0)  # seconds after the daemon answered /readyz
CONVERGE_TIMEOUT = 180.0


class PostgresCrashTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.pg_b = services.pg_b()
        self.maria = services.mariadb()
        suffix = uuid.uuid4().hex[:10]
        self.schema = "c_" + suffix
        self.job = "crash_" + suffix
        slot = "megasync_" + self.job
        self.seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        self.rng = random.Random(self.seed)
        print(f"\n[test_postgres_crash] seed {self.seed}", file=sys.stderr, flush=True)
        s = self.schema
        services.psql(self.pg, f"""
            CREATE SCHEMA {s};
            CREATE TABLE {s}.items(id bigint PRIMARY KEY, v text NOT NULL, n int);
            CREATE TABLE {s}.stop(flag int);
            INSERT INTO {s}.items SELECT i, 'v' || i, i FROM generate_series(1, {ROWS}) i;
            CREATE PROCEDURE {s}.churn() LANGUAGE plpgsql AS $$
            DECLARE i int := 0;
            BEGIN
              WHILE NOT EXISTS (SELECT 1 FROM {s}.stop) LOOP
                i := i + 1;
                INSERT INTO {s}.items VALUES ({ROWS} + i, 'new' || i, i);
                UPDATE {s}.items SET v = 'u' || i, n = n + 1 WHERE id = (i::bigint * 7919) % {ROWS} + 1;
                DELETE FROM {s}.items WHERE id = (i::bigint * 104729) % {ROWS} + 1;
                UPDATE {s}.items SET id = id + 1000000 WHERE id = (i::bigint * 15485863) % {ROWS} + 1;
                COMMIT;
                PERFORM pg_sleep(0.002);
              END LOOP;
            END $$;
        """)
        self.addCleanup(services.psql, self.pg, f"DROP SCHEMA {s} CASCADE")
        self.addCleanup(services.drop_slot, self.pg, slot)
        # The targets hold the table under the same schema (database) name.
        services.psql(self.pg_b, f"CREATE SCHEMA {s}")
        self.addCleanup(services.psql, self.pg_b, f"DROP SCHEMA {s} CASCADE; DELETE FROM "
                        f"_megasync_checkpoints WHERE job = '{self.job}'")
        services.mariadb_sql(self.maria, f"CREATE DATABASE {s}")
        self.addCleanup(services.mariadb_sql, self.maria, f"DROP DATABASE {s}")
        self.addCleanup(services.mariadb_sql, self.maria,
                        f"DELETE FROM _megasync_checkpoints WHERE job = '{self.job}'")
        # First (cleanups run last-in first-out): the writer's server side ends
        # even when the test failed before telling it to.
        self.addCleanup(services.psql, self.pg,
                        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE query = 'CALL {s}.churn()'")

    def config(self, port: int) -> str:
        return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
endpoints:
  app:
    type: postgres
    url: "{self.pg.url}"
  replica:
    type: sqlite
    path: replica.db
    create: true
  backup:
    type: postgres
    url: "{self.pg_b.url}"
  warehouse:
    type: mariadb
    url: "{self.maria.url}"
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [replica, backup, warehouse]
    tables: [{self.schema}.items]
    interval: 1s
"""

    def start_writer(self) -> subprocess.Popen:
        return services.psql_background(self.pg, f"CALL {self.schema}.churn()", "300s")

    def succeeded(self, d) -> bool:
        last = d.job(self.job)["last_run"]  # runs of this daemon process only
        return bool(last) and last["outcome"] == "succeeded"

    def test_sigkill_under_write_load(self):
        d = self.start_daemon(self.config)
        writer = self.start_writer()
        self.addCleanup(writer.kill)
        for kill in range(1, KILLS + 1):
            time.sleep(self.rng.uniform(*KILL_DELAY))  # the deliberate random moment
            self.assertTrue(d.alive(), f"the daemon died on its own:\n{d.stderr()}")
            d.kill()
            if writer.poll() is not None:
                self.fail(f"the writer stopped: {writer.communicate()}")
            d.start()
        services.psql(self.pg, f"INSERT INTO {self.schema}.stop VALUES (1)")
        _, err = writer.communicate(timeout=60)
        self.assertEqual(writer.returncode, 0, err)
        # One more life of the daemon, started after the last write.
        d.kill()
        d.start()
        wait_for(lambda: self.succeeded(d), CONVERGE_TIMEOUT,
                 f"a successful run after the last write (seed {self.seed})", interval=0.2)
        self.assertEqual(d.stop(), EXIT_OK, d.stderr())

        want = [(int(i), v, int(n)) for i, v, n in services.psql(
            self.pg, f"SELECT id, v, n FROM {self.schema}.items ORDER BY id")]
        db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
        got = db.execute(f'SELECT id, v, n FROM "{self.schema}.items" ORDER BY id').fetchall()
        db.close()
        table = f"{self.schema}.items"
        self.assertEqual([(int(i), v, int(n)) for i, v, n in services.psql(
            self.pg_b, f"SELECT id, v, n FROM {table} ORDER BY id")], want, f"seed {self.seed}")
        self.assertEqual([(int(i), v, int(n)) for i, v, n in services.mariadb_sql(
            self.maria, f"SELECT id, v, n FROM {table} ORDER BY id")], want, f"seed {self.seed}")
        self.assertGreater(len(want), ROWS // 2)
        missing = sorted({r[0] for r in want} - {r[0] for r in got})[:10]
        extra = sorted({r[0] for r in got} - {r[0] for r in want})[:10]
        self.assertEqual(len(got), len(want), f"missing {missing}, extra {extra} (seed {self.seed})")
        self.assertEqual(got, want, f"seed {self.seed}")
        verify = run_cli(["verify", "-c", d.config_path, self.job], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)


if __name__ == "__main__":
    unittest.main()
