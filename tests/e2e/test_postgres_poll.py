"""PostgreSQL as a record source in `mode: poll` (tests/services), read as the
role megasync_limited (no REPLICATION, SELECT only): the snapshot, then inserts
and updates found by the cursor column, rows committed late found by the
overlap re-read, and deletes applied by the verification after the run; into a
PostgreSQL target and a SQLite one. Bad configurations are clear errors."""

import os
import sqlite3
import unittest
import uuid

import services
from megasync_harness import EXIT_FAILED, EXIT_INVALID, EXIT_OK, DaemonTestCase, run_cli


class PostgresPollTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.target = services.pg_b()
        self.limited = self.pg.limited()
        suffix = uuid.uuid4().hex[:10]
        self.schema = "p_" + suffix
        self.job = "poll_" + suffix
        services.psql(self.pg, f"""
            CREATE SCHEMA {self.schema};
            CREATE TABLE {self.schema}.orders(id bigint PRIMARY KEY, customer text NOT NULL,
                amount numeric(12,2), updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE INDEX ON {self.schema}.orders(updated_at, id);
            CREATE FUNCTION {self.schema}.touch() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
            CREATE TRIGGER touch BEFORE UPDATE ON {self.schema}.orders
              FOR EACH ROW EXECUTE FUNCTION {self.schema}.touch();
            INSERT INTO {self.schema}.orders (id, customer, amount)
              SELECT i, 'customer ' || i, i * 1.25 FROM generate_series(1, 2500) i;
            CREATE TABLE {self.schema}.items(id int PRIMARY KEY, name text, version bigint);
            CREATE TABLE {self.schema}.nokey(v text, updated_at timestamptz);
            GRANT USAGE ON SCHEMA {self.schema} TO {self.pg.limited_user};
            GRANT SELECT ON ALL TABLES IN SCHEMA {self.schema} TO {self.pg.limited_user};
        """)
        self.addCleanup(services.psql, self.pg, f"DROP SCHEMA {self.schema} CASCADE")
        self.addCleanup(services.psql, self.target, f"""
            DROP SCHEMA IF EXISTS {self.schema} CASCADE;
            DO $$ BEGIN
              IF to_regclass('public._megasync_checkpoints') IS NOT NULL THEN
                DELETE FROM _megasync_checkpoints WHERE job = '{self.job}';
              END IF;
            END $$""")
        self.config = os.path.join(self.tmp, "megasync.yaml")

    def write_config(self, tables: str = "orders", verify_interval: str = "1m",
                     source_options: str = "mode: poll\n    cursor_column: updated_at",
                     targets: str = "[replica, warehouse]") -> None:
        with open(self.config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  app:
    type: postgres
    url: "{self.limited.url}"
    {source_options}
  warehouse:
    type: postgres
    url: "{self.target.url}"
  replica:
    type: sqlite
    path: replica.db
    create: true
jobs:
  {self.job}:
    kind: database
    source: app
    targets: {targets}
    tables: [{self.schema}.{tables}]
    verify_interval: {verify_interval}
""")

    def sync(self):
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        self.assertNotIn(self.limited.password, result.stderr)
        return result

    def replica(self, sql: str) -> list:
        db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def source_rows(self, table: str = "orders") -> list:
        return [(int(r[0]), r[1]) for r in services.psql(
            self.pg, f"SELECT id, customer FROM {self.schema}.{table} ORDER BY id")]

    def sqlite_rows(self, table: str = "orders") -> list:
        return self.replica(f'SELECT id, customer FROM "{self.schema}.{table}" ORDER BY id')

    def warehouse_rows(self) -> list:
        return [(int(r[0]), r[1]) for r in services.psql(
            self.target, f"SELECT id, customer FROM {self.schema}.orders ORDER BY id")]

    def assert_targets_equal_source(self) -> None:
        expected = self.source_rows()
        self.assertEqual(self.sqlite_rows(), expected)
        self.assertEqual(self.warehouse_rows(), expected)

    def test_snapshot_changes_and_deletes(self):
        self.write_config()
        self.sync()
        self.assertEqual(self.replica(f'SELECT count(*) FROM "{self.schema}.orders"'), [(2500,)])
        self.assert_targets_equal_source()
        self.assertEqual(services.psql(self.target, f"SELECT amount FROM {self.schema}.orders "
                                                    f"WHERE id = 2"), [["2.50"]])

        # Inserts and updates (more than a batch, across several pages).
        services.psql(self.pg, f"""
            UPDATE {self.schema}.orders SET customer = 'changed ' || id WHERE id % 2 = 0;
            INSERT INTO {self.schema}.orders (id, customer)
              SELECT i, 'new ' || i FROM generate_series(3001, 3100) i;
        """)
        self.sync()
        self.assert_targets_equal_source()
        self.assertEqual(self.sqlite_rows()[1], (2, "changed 2"))

        # Deletes are not seen by the poll: the verification after the run
        # finds the extra rows and removes them.
        services.psql(self.pg, f"DELETE FROM {self.schema}.orders WHERE id > 3050 OR id = 7")
        result = self.sync()
        self.assert_targets_equal_source()
        self.assertIn("cannot send", result.stderr)
        verify = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)

    def test_late_commit_is_read_again_within_the_overlap(self):
        # No verification: what arrives comes from the poll alone.
        self.write_config(verify_interval="0", targets="[replica]")
        self.sync()
        # Rows committed "late": their cursor is older than the last value
        # already read (a transaction's now(), a sequence value taken early).
        services.psql(self.pg, f"""
            INSERT INTO {self.schema}.orders (id, customer, updated_at)
              SELECT 5001, 'late', max(updated_at) - interval '20 seconds'
              FROM {self.schema}.orders;
            INSERT INTO {self.schema}.orders (id, customer, updated_at)
              SELECT 5002, 'too late', max(updated_at) - interval '1 hour'
              FROM {self.schema}.orders WHERE id <> 5001;
            INSERT INTO {self.schema}.orders (id, customer) VALUES (5000, 'fresh');
        """)
        result = self.sync()
        ids = [r[0] for r in self.sqlite_rows()]
        self.assertIn(5000, ids)
        self.assertIn(5001, ids)  # within poll_overlap (1m)
        self.assertNotIn(5002, ids)  # beyond it: left to the verification
        self.assertIn("cannot see deletes", result.stderr)  # verify_interval 0 warns

        # With the verification on, the row beyond the overlap arrives too.
        self.write_config(targets="[replica]")
        self.sync()
        self.assertEqual(self.sqlite_rows(), self.source_rows())

    def test_integer_version_cursor(self):
        services.psql(self.pg, f"""
            INSERT INTO {self.schema}.items SELECT i, 'item ' || i, i FROM generate_series(1, 300) i;
        """)
        self.write_config(tables="items", targets="[replica]",
                          source_options="mode: poll\n    cursor_column: version")
        self.sync()
        services.psql(self.pg, f"""
            UPDATE {self.schema}.items SET name = 'renamed', version = 1000 WHERE id = 10;
            INSERT INTO {self.schema}.items VALUES (301, 'item 301', 1001);
            DELETE FROM {self.schema}.items WHERE id = 20;
        """)
        self.sync()
        self.assertEqual(self.replica(f'SELECT id, name FROM "{self.schema}.items" ORDER BY id'),
                         [(int(r[0]), r[1]) for r in services.psql(
                             self.pg, f"SELECT id, name FROM {self.schema}.items ORDER BY id")])
        self.assertEqual(self.replica(f'SELECT name FROM "{self.schema}.items" WHERE id = 10'),
                         [("renamed",)])

    def test_bad_configurations(self):
        # Caught by `megasync check`, before connecting.
        self.write_config(source_options="mode: poll")
        check = run_cli(["check", "-c", self.config], cwd=self.tmp, timeout=60)
        self.assert_exit(check, EXIT_INVALID)
        self.assertIn("endpoint app: mode: poll needs cursor_column", check.stderr)
        self.write_config(source_options="cursor_column: updated_at")
        check = run_cli(["check", "-c", self.config], cwd=self.tmp, timeout=60)
        self.assert_exit(check, EXIT_INVALID)
        self.assertIn("cursor_column is used only with mode: poll", check.stderr)
        self.write_config(source_options="mode: pull\n    cursor_column: updated_at")
        check = run_cli(["check", "-c", self.config], cwd=self.tmp, timeout=60)
        self.assert_exit(check, EXIT_INVALID)

        # Found when the job reads the catalog.
        for source_options, tables, expected in [
                ("mode: poll\n    cursor_column: changed_at", "orders",
                 f"table {self.schema}.orders has no column changed_at"),
                ("mode: poll\n    cursor_column: customer", "orders",
                 f"column {self.schema}.orders.customer is text: a cursor_column must be"),
                ("mode: poll\n    cursor_column: updated_at", "nokey",
                 f"table {self.schema}.nokey has no primary key"),
                ("mode: poll\n    cursor_column: updated_at", "missing",
                 f"table {self.schema}.missing does not exist")]:
            self.write_config(source_options=source_options, tables=tables, targets="[replica]")
            result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
            self.assert_exit(result, EXIT_FAILED)
            self.assertIn(expected, result.stderr)
            self.assertNotIn(self.limited.password, result.stderr)


if __name__ == "__main__":
    unittest.main()
