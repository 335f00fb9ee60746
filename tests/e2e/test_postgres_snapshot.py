"""The postgres source's initial snapshot, copied in parallel by page ranges
(snapshot.parallelism, snapshot.chunk_pages), while a writer keeps inserting,
updating and deleting rows: the snapshot-to-stream seam has no gap (every
target ends equal to the source) and no stale replay (a trigger on the
PostgreSQL target records any update that would take a row's counter
backwards, which a change applied again after the snapshot already held it
would do)."""

import os
import re
import sqlite3
import subprocess
import unittest
import uuid

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli

ROWS = 60_000


class PostgresSnapshotTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.pg_b = services.pg_b()
        suffix = uuid.uuid4().hex[:10]
        self.schema = s = "p_" + suffix
        self.job = "snap_" + suffix
        slot = "megasync_" + self.job
        services.psql(self.pg, f"""
            CREATE SCHEMA {s};
            CREATE TABLE {s}.items(id bigint PRIMARY KEY, n int NOT NULL, pad text);
            INSERT INTO {s}.items SELECT i, 0, repeat(md5(i::text), 3)
              FROM generate_series(1, {ROWS}) i;
            CREATE TABLE {s}.pairs(a text, b int, note text, PRIMARY KEY (a, b));
            INSERT INTO {s}.pairs SELECT 'k' || (i % 97), i, 'note ' || i
              FROM generate_series(1, 5000) i;
            ANALYZE {s}.items; ANALYZE {s}.pairs;
            CREATE TABLE {s}.stop(flag int);
            CREATE PROCEDURE {s}.churn() LANGUAGE plpgsql AS $$
            DECLARE i int := 0;
            BEGIN
              WHILE NOT EXISTS (SELECT 1 FROM {s}.stop) LOOP
                i := i + 1;
                UPDATE {s}.items SET n = n + 1 WHERE id = (i::bigint * 7919) % {ROWS} + 1;
                UPDATE {s}.items SET n = n + 1 WHERE id = (i::bigint * 31) % 500 + 1;
                INSERT INTO {s}.items VALUES ({ROWS} + i, 1, 'new');
                DELETE FROM {s}.items WHERE id = (i::bigint * 104729) % {ROWS} + 1;
                UPDATE {s}.pairs SET note = 'changed ' || i WHERE a = 'k' || (i % 97) AND b = i;
                COMMIT;
              END LOOP;
            END $$;
        """)
        # The PostgreSQL target's tables exist beforehand, with the audit trigger.
        services.psql(self.pg_b, f"""
            CREATE SCHEMA {s};
            CREATE TABLE {s}.items(id bigint PRIMARY KEY, n int NOT NULL, pad text);
            CREATE TABLE {s}.regressions(id bigint, old_n int, new_n int);
            CREATE FUNCTION {s}.audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.n < OLD.n THEN
                INSERT INTO {s}.regressions VALUES (OLD.id, OLD.n, NEW.n);
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER audit BEFORE UPDATE ON {s}.items
              FOR EACH ROW EXECUTE FUNCTION {s}.audit();
        """)
        self.addCleanup(services.psql, self.pg_b, f"DROP SCHEMA {s} CASCADE; DELETE FROM "
                        f"_megasync_checkpoints WHERE job = '{self.job}'")
        self.addCleanup(services.psql, self.pg, f"DROP SCHEMA {s} CASCADE")
        self.addCleanup(services.drop_slot, self.pg, slot)
        self.addCleanup(services.psql, self.pg,
                        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE query = 'CALL {s}.churn()'")
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  app:
    type: postgres
    url: "{self.pg.url}"
    snapshot:
      parallelism: 3
      chunk_pages: 16
  backup:
    type: postgres
    url: "{self.pg_b.url}"
  replica:
    type: sqlite
    path: replica.db
    create: true
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [backup, replica]
    tables: [{s}.items, {s}.pairs]
    batch_size: 5000
    verify_interval: 0  # compared below, once the writer stopped
""")

    def sync(self) -> subprocess.CompletedProcess:
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=600)
        self.assert_exit(result, EXIT_OK)
        return result

    def start_writer(self) -> subprocess.Popen:
        return services.psql_background(self.pg, f"CALL {self.schema}.churn()", "600s")

    def rows(self, conn, table: str) -> list:
        return services.psql(conn, f"SELECT * FROM {self.schema}.{table} ORDER BY 1, 2")

    def test_parallel_snapshot_under_writes_has_no_gap_and_no_stale_replay(self):
        writer = self.start_writer()
        self.addCleanup(writer.kill)
        first = self.sync()
        for line in first.stderr.splitlines():
            # A progress line of the snapshot, when the run lasted long enough
            # to print one, tells the rate and what is left.
            if "(snapshot)" in line and re.search(r": [1-9]\d* records", line):
                self.assertIn("ETA", line)
        services.psql(self.pg, f"INSERT INTO {self.schema}.stop VALUES (1)")
        _, err = writer.communicate(timeout=120)
        self.assertEqual(writer.returncode, 0, err)
        changes = int(services.psql(self.pg, f"SELECT count(*) FROM {self.schema}.items "
                                             f"WHERE n > 0")[0][0])
        self.assertGreater(changes, 0, "the writer changed nothing")
        self.sync()  # the changes after the first run's end

        for table in ("items", "pairs"):
            want = self.rows(self.pg, table)
            self.assertEqual(self.rows(self.pg_b, table), want, table)
            db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
            got = db.execute(f'SELECT * FROM "{self.schema}.{table}" ORDER BY 1, 2').fetchall()
            db.close()
            self.assertEqual([[str(v) for v in row] for row in got],
                             [[str(v) for v in row] for row in want], table)
        self.assertEqual(services.psql(self.pg_b, f"SELECT * FROM {self.schema}.regressions"), [])
        verify = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(verify, EXIT_OK)

    def test_parallel_chunks_arrive_in_table_order(self):
        # Without writes, the rows reach the target in the source's physical
        # order (here the key's), whichever worker read them: the target's
        # key index then fills at its right edge, as from a single COPY.
        self.sync()
        self.assertEqual(self.rows(self.pg_b, "items"), self.rows(self.pg, "items"))
        out_of_order = services.psql(self.pg_b, f"""
            SELECT count(*) FROM (SELECT id, lag(id) OVER (ORDER BY ctid) AS before
                                  FROM {self.schema}.items) x
            WHERE id < before""")[0][0]
        self.assertEqual(int(out_of_order), 0)


if __name__ == "__main__":
    unittest.main()
