"""Catching up by resync (`catch_up: resync` on the source endpoint): when the
job's slot holds more WAL since the checkpoint than its tables take, a fresh
snapshot replaces the target's rows (deleted rows and rows the target alone
had go too) in one transaction with the checkpoint, the slot moves to the
snapshot's position, and the changes after it stream as before. A kill in
the middle of a resync leaves the target as it was; the next run converges.
With `resync_clear: truncate` on the target, the tables are truncated
rather than deleted from. A target table that another one references by a
foreign key is not cleared (the backlog is replayed). The fresh snapshot after a lost slot replaces
too."""

import os
import signal
import sqlite3
import subprocess
import unittest
import uuid

import services
from megasync_harness import BINARY, EXIT_OK, DaemonTestCase, child_env, run_cli, wait_for

ROWS = 3000


class PostgresResyncTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.pgb = services.pg_b()
        suffix = uuid.uuid4().hex[:10]
        self.schema = s = "resync_" + suffix
        self.job = "resync_" + suffix
        services.cdc_scratch(self, self.pg, self.pgb, s, self.job, f"""
            CREATE TABLE {s}.a (id bigint PRIMARY KEY, rev int NOT NULL, note text);
            CREATE TABLE {s}.b (id bigint PRIMARY KEY, rev int NOT NULL, at timestamptz);
            INSERT INTO {s}.a SELECT i, 0, md5(i::text) FROM generate_series(1, {ROWS}) i;
            INSERT INTO {s}.b SELECT i, 0, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 h'
              FROM generate_series(1, {ROWS}) i;
        """)
        self.config = os.path.join(self.tmp, "megasync.yaml")
        services.pg_job_config(self.config, self.job, self.pg, self.pgb,
                               [f"{s}.a", f"{s}.b"], "    batch_size: 200\n",
                               "    catch_up: resync\n    resync_above: 0\n")

    def sync(self) -> subprocess.CompletedProcess:
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        return result

    def rows(self, conn, table: str) -> list:
        return services.psql(conn, "SET TimeZone = 'UTC'; "
                                   f"SELECT * FROM {self.schema}.{table} ORDER BY id")

    def assert_equal(self) -> None:
        for table in ("a", "b"):
            self.assertEqual(self.rows(self.pgb, table), self.rows(self.pg, table), table)

    def make_backlog(self) -> None:
        """More WAL than the tables take: every row updated a few times, some
        deleted, some new; and a row only the target has."""
        s = self.schema
        for _ in range(4):
            services.psql(self.pg, f"UPDATE {s}.a SET rev = rev + 1; UPDATE {s}.b SET rev = rev + 1")
        services.psql(self.pg, f"""
            DELETE FROM {s}.a WHERE id <= 100;
            INSERT INTO {s}.b SELECT i, 7, now() FROM generate_series({ROWS} + 1, {ROWS} + 50) i;
        """)
        services.psql(self.pgb, f"INSERT INTO {s}.a VALUES (999999, 1, 'only here')")

    def slot_position(self) -> str:
        return services.psql(self.pg, "SELECT confirmed_flush_lsn FROM pg_replication_slots "
                                      f"WHERE slot_name = 'megasync_{self.job}'")[0][0]

    def test_a_large_backlog_is_resynced_and_a_small_one_replayed(self):
        self.sync()
        self.assert_equal()
        self.make_backlog()
        wal_end = services.psql(self.pg, "SELECT pg_current_wal_lsn()")[0][0]

        result = self.sync()
        self.assertIn("resync: a fresh snapshot replaces", result.stderr)
        self.assert_equal()
        self.assertEqual(services.psql(self.pgb, f"SELECT count(*) FROM {self.schema}.a "
                                                 "WHERE id = 999999"), [["0"]])
        # The slot moved past the backlog rather than keeping it.
        self.assertEqual(services.psql(
            self.pg, f"SELECT '{self.slot_position()}'::pg_lsn >= '{wal_end}'::pg_lsn"), [["t"]])

        # A backlog smaller than the tables is replayed.
        services.psql(self.pg, f"UPDATE {self.schema}.a SET rev = rev + 10 WHERE id <= 110; "
                               f"DELETE FROM {self.schema}.b WHERE id = 5")
        result = self.sync()
        self.assertNotIn("resync: a fresh snapshot replaces", result.stderr)
        self.assertIn("replay", result.stderr)
        self.assert_equal()

    def test_a_resync_may_truncate_the_tables(self):
        services.pg_job_config(self.config, self.job, self.pg, self.pgb,
                               [f"{self.schema}.a", f"{self.schema}.b"], "    batch_size: 200\n",
                               "    catch_up: resync\n    resync_above: 0\n",
                               "    resync_clear: truncate\n")
        self.sync()

        def files() -> list:
            return services.psql(self.pgb, f"SELECT pg_relation_filenode('{self.schema}.a'), "
                                           f"pg_relation_filenode('{self.schema}.b')")
        before = files()
        self.make_backlog()
        result = self.sync()
        self.assertIn("resync: a fresh snapshot replaces", result.stderr)
        self.assert_equal()
        # TRUNCATE gave both tables new files.
        self.assertNotEqual(files()[0][0], before[0][0])
        self.assertNotEqual(files()[0][1], before[0][1])

    def test_a_kill_in_the_middle_of_a_resync_leaves_the_target_as_it_was(self):
        self.sync()
        self.make_backlog()
        before = {table: self.rows(self.pgb, table) for table in ("a", "b")}
        # The resync's transaction empties a, then waits for b, which another
        # session holds: megasync is killed there.
        lock_sql = f"BEGIN; LOCK TABLE {self.schema}.b IN ACCESS EXCLUSIVE MODE; "
        lock = services.psql_background(self.pgb, lock_sql + "SELECT pg_sleep(120); COMMIT")

        def unlock() -> None:
            if lock.returncode is not None:
                return
            # The server would notice psql's end only after the sleep.
            lock.kill()
            lock.communicate()
            services.psql(self.pgb, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    f"WHERE query LIKE '{lock_sql}%'")
            wait_for(lambda: services.psql(self.pgb, "SELECT count(*) FROM pg_stat_activity "
                                                     f"WHERE query LIKE '{lock_sql}%'") == [["0"]],
                     30, "the lock's session to end")
        self.addCleanup(unlock)
        wait_for(lambda: services.psql(self.pgb, "SELECT count(*) FROM pg_locks WHERE granted AND "
                                                 f"relation = '{self.schema}.b'::regclass")
                 == [["1"]], 30, "the lock on b")
        proc = subprocess.Popen([BINARY, "sync", "-c", self.config, self.job], cwd=self.tmp,
                                env=child_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(proc.kill)
        wait_for(lambda: services.psql(
            self.pgb, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                      f"query LIKE 'DELETE FROM %{self.schema}%.%b%'") == [["1"]],
            60, "the resync waiting for b")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        unlock()
        # Nothing of the resync was committed: a holds its rows, the one only
        # the target had included.
        for table in ("a", "b"):
            self.assertEqual(self.rows(self.pgb, table), before[table], table)

        result = self.sync()
        self.assertIn("resync: a fresh snapshot replaces", result.stderr)
        self.assert_equal()

    def test_a_table_another_references_is_replayed(self):
        self.sync()
        # Clearing a would cascade to the target's own table c.
        services.psql(self.pgb, f"CREATE TABLE {self.schema}.c (a_id bigint REFERENCES "
                                f"{self.schema}.a (id) ON DELETE CASCADE); "
                                f"INSERT INTO {self.schema}.c VALUES (500)")
        self.make_backlog()
        services.psql(self.pgb, f"DELETE FROM {self.schema}.a WHERE id = 999999")
        result = self.sync()
        self.assertIn("referenced by a foreign key", result.stderr)
        self.assertNotIn("resync: a fresh snapshot replaces", result.stderr)
        self.assert_equal()
        self.assertEqual(services.psql(self.pgb, f"SELECT a_id FROM {self.schema}.c"), [["500"]])

    def test_a_snapshot_after_a_lost_slot_replaces_the_rows(self):
        self.sync()
        services.drop_slot(self.pg, f"megasync_{self.job}", publication=False)
        self.make_backlog()
        services.pg_job_config(self.config, self.job, self.pg, self.pgb,
                               [f"{self.schema}.a", f"{self.schema}.b"], "    batch_size: 200\n",
                               "    catch_up: resync\n    on_slot_lost: resnapshot\n")
        self.sync()
        # Rows deleted while the slot was missing, and the target's own, are gone.
        self.assert_equal()

    def test_mariadb_and_sqlite_targets_are_resynced_too(self):
        s = self.schema
        maria = services.mariadb()
        services.mariadb_sql(maria, f"CREATE DATABASE {s}")
        self.addCleanup(services.mariadb_sql, maria, f"DROP DATABASE {s}")
        with open(self.config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  app:
    type: postgres
    url: "{self.pg.url}"
    catch_up: resync
    resync_above: 0
  pgb:
    type: postgres
    url: "{self.pgb.url}"
  warehouse:
    type: mariadb
    url: "{maria.url}"
  replica:
    type: sqlite
    path: replica.db
    create: true
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [pgb, warehouse, replica]
    tables: [{s}.a, {s}.b]
    batch_size: 200
    verify_interval: 0s
""")
        self.sync()
        self.make_backlog()
        services.mariadb_sql(maria, f"INSERT INTO {s}.a VALUES (999998, 1, 'only here')")
        replica = os.path.join(self.tmp, "replica.db")
        with sqlite3.connect(replica) as db:
            db.execute(f'INSERT INTO "{s}.a" VALUES (999997, 1, \'only here\')')
        result = self.sync()
        self.assertIn("resync: a fresh snapshot replaces", result.stderr)
        for table in ("a", "b"):
            want = services.psql(self.pg, f"SELECT id, rev FROM {s}.{table} ORDER BY id")
            self.assertEqual(services.psql(self.pgb, f"SELECT id, rev FROM {s}.{table} ORDER BY id"),
                             want, table)
            self.assertEqual(services.mariadb_sql(
                maria, f"SELECT id, rev FROM {s}.{table} ORDER BY id"), want, table)
            with sqlite3.connect(replica) as db:
                rows = db.execute(f'SELECT id, rev FROM "{s}.{table}" ORDER BY id').fetchall()
            self.assertEqual([[str(i), str(r)] for i, r in rows], want, table)


if __name__ == "__main__":
    unittest.main()
