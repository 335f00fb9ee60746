"""A snapshot of many batches into an empty PostgreSQL table goes in with one
COPY left open across the batches and committed with the last one
(PostgresSink::apply_spanning): the target's rows all carry one transaction
id. When that COPY fails part-way, the run fails, the rows of the batches
before it are rolled back with it (none is left half-copied, none is
dead-lettered on its own), and the next run takes the snapshot again and
converges."""

import os
import unittest
import uuid

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli

ROWS = 6000


class PostgresSnapshotSpanTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.pgb = services.pg_b()
        suffix = uuid.uuid4().hex[:10]
        self.schema = s = "span_" + suffix
        self.job = "span_" + suffix
        table = "(id bigint PRIMARY KEY, amount numeric(12,2), at timestamptz, note text)"
        services.cdc_scratch(self, self.pg, self.pgb, s, self.job, f"""
            CREATE TABLE {s}.items{table};
            INSERT INTO {s}.items SELECT i, i / 100.0,
                timestamptz '2024-01-01 00:00:00+00' + i * interval '1 s', repeat(md5(i::text), 2)
              FROM generate_series(1, {ROWS}) i;
        """)
        # An empty target table that refuses one row near the end.
        services.psql(self.pgb, f"""
            CREATE TABLE {s}.items{table};
            ALTER TABLE {s}.items ADD CONSTRAINT not_5900 CHECK (id <> 5900);
        """)
        self.config = os.path.join(self.tmp, "megasync.yaml")
        services.pg_job_config(self.config, self.job, self.pg, self.pgb, [f"{s}.items"],
                               "    batch_size: 100\n    dead_letter_after: 3\n")

    def target(self, sql: str) -> list:
        return services.psql(self.pgb, sql)

    def rows(self, conn) -> list:
        return services.psql(conn, "SET TimeZone = 'UTC'; "
                                   f"SELECT * FROM {self.schema}.items ORDER BY id")

    def test_many_batches_go_in_one_transaction_and_a_failure_takes_them_all(self):
        failed = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assertNotEqual(failed.returncode, EXIT_OK)
        self.assertIn("the snapshot starts again", failed.stderr)
        self.assertIn("not_5900", failed.stderr)
        # The batches before the failing one were in the same COPY: none stayed,
        # and none of their rows went to the dead letters one by one.
        self.assertEqual(self.target(f"SELECT count(*) FROM {self.schema}.items"), [["0"]])
        dead = run_cli(["dlq", "list", "-c", self.config, self.job], cwd=self.tmp, timeout=60)
        self.assertEqual(dead.returncode, EXIT_OK, dead.stderr)
        self.assertNotIn("5900", dead.stdout)

        self.target(f"ALTER TABLE {self.schema}.items DROP CONSTRAINT not_5900")
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        self.assertEqual(len(self.rows(self.pg)), ROWS)
        self.assertEqual(self.rows(self.pgb), self.rows(self.pg))
        # Many batches (batch_size 100), one transaction.
        self.assertEqual(
            self.target(f"SELECT count(DISTINCT xmin::text) FROM {self.schema}.items"), [["1"]])


if __name__ == "__main__":
    unittest.main()
