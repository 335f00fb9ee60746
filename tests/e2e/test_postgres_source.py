"""PostgreSQL as a record source (logical replication, tests/services): a
snapshot from the slot's exported snapshot, then streamed inserts, updates,
deletes, key changes and truncates, into a SQLite replica; verify agrees."""

import os
import sqlite3
import unittest
import uuid

import services
from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli


class PostgresSourceTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        suffix = uuid.uuid4().hex[:10]
        self.schema = "s_" + suffix
        self.job = "from_pg_" + suffix
        slot = "megasync_" + self.job
        services.psql(self.pg, f"""
            CREATE SCHEMA {self.schema};
            CREATE TABLE {self.schema}.orders(id bigint PRIMARY KEY, customer text NOT NULL,
                amount numeric(12,2), paid boolean, placed timestamptz, tags text[],
                doc jsonb, raw bytea);
            INSERT INTO {self.schema}.orders
              SELECT i, 'customer ' || i, i * 1.25, i % 2 = 0,
                     timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute',
                     ARRAY['a', 'b' || i], jsonb_build_object('n', i), '\\x0102'::bytea
              FROM generate_series(1, 2000) i;
        """)
        self.addCleanup(services.psql, self.pg, f"DROP SCHEMA {self.schema} CASCADE")
        self.addCleanup(services.drop_slot, self.pg, slot)
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  app:
    type: postgres
    url: "{self.pg.url}"
  replica:
    type: sqlite
    path: replica.db
    create: true
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [replica]
    tables: [{self.schema}.orders]
""")

    def sync(self):
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        return result

    def replica(self, sql: str) -> list:
        db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def source_ids(self) -> list:
        return [int(r[0]) for r in services.psql(
            self.pg, f"SELECT id FROM {self.schema}.orders ORDER BY id")]

    def test_snapshot_then_stream(self):
        self.sync()
        table = f'"{self.schema}.orders"'
        self.assertEqual(self.replica(f"SELECT count(*) FROM {table}"), [(2000,)])
        row = self.replica(f"SELECT id, customer, amount, paid, placed, tags, doc, hex(raw) "
                           f"FROM {table} WHERE id = 2")
        # Numeric as its exact text (a NUMERIC column would keep 15 digits).
        self.assertEqual(row, [(2, "customer 2", "2.50", 1, "2026-01-01T00:02:00Z",
                                '["a","b2"]', '{"n": 2}', "0102")])

        services.psql(self.pg, f"""
            UPDATE {self.schema}.orders SET customer = 'changed' WHERE id % 100 = 0;
            DELETE FROM {self.schema}.orders WHERE id > 1990;
            INSERT INTO {self.schema}.orders (id, customer) VALUES (9000, 'new');
            UPDATE {self.schema}.orders SET id = 9001 WHERE id = 1;
        """)
        self.sync()
        ids = [r[0] for r in self.replica(f"SELECT id FROM {table} ORDER BY id")]
        self.assertEqual(ids, self.source_ids())
        self.assertEqual(self.replica(f"SELECT customer FROM {table} WHERE id = 100"),
                         [("changed",)])
        verify = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)

        services.psql(self.pg, f"TRUNCATE {self.schema}.orders; "
                               f"INSERT INTO {self.schema}.orders (id, customer) VALUES (1, 'x')")
        self.sync()
        self.assertEqual(self.replica(f"SELECT id, customer FROM {table}"), [(1, "x")])


class PostgresSourceErrorsTest(DaemonTestCase):
    """Bad input is a clear error naming the fix, never a crash or a hang."""

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.schema = "e_" + uuid.uuid4().hex[:10]
        services.psql(self.pg, f"""
            CREATE SCHEMA {self.schema};
            CREATE TABLE {self.schema}.keyed(id int PRIMARY KEY, v text);
            CREATE TABLE {self.schema}.nokey(v text);
            GRANT USAGE ON SCHEMA {self.schema} TO {self.pg.limited_user};
            GRANT SELECT ON ALL TABLES IN SCHEMA {self.schema} TO {self.pg.limited_user};
        """)
        self.addCleanup(services.psql, self.pg, f"DROP SCHEMA {self.schema} CASCADE")

    def sync_with(self, url: str, table: str):
        config = os.path.join(self.tmp, "megasync.yaml")
        with open(config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  app:
    type: postgres
    url: "{url}"
  replica:
    type: sqlite
    path: replica.db
    create: true
jobs:
  errors_{self.schema}:
    kind: database
    source: app
    targets: [replica]
    tables: [{table}]
""")
        return run_cli(["sync", "-c", config, f"errors_{self.schema}"], cwd=self.tmp, timeout=120)

    def test_table_without_primary_key(self):
        result = self.sync_with(self.pg.url, f"{self.schema}.nokey")
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn(f"table {self.schema}.nokey has no primary key: add one", result.stderr)

    def test_unknown_table(self):
        result = self.sync_with(self.pg.url, f"{self.schema}.missing")
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn(f"table {self.schema}.missing does not exist", result.stderr)

    def test_role_without_replication(self):
        limited = self.pg.limited()
        result = self.sync_with(limited.url, f"{self.schema}.keyed")
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn("REPLICATION", result.stderr)
        self.assertNotIn(limited.password, result.stderr)


if __name__ == "__main__":
    unittest.main()
