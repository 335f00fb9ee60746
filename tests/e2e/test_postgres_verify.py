"""`megasync verify` between two real PostgreSQL servers (tests/services): the
counts and checksums per key range are computed inside the servers, bisection
finds the differing ranges, only their rows are pulled, and `--repair` fixes
exactly those rows. A table whose target columns print differently (a real
source column in a double precision target column, the target table made
beforehand) falls back to reading the rows."""

import json
import os
import unittest
import uuid

import services
from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli

ROWS = 200_000


class PostgresVerifyTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.source = services.pg_a()
        self.target = services.pg_b()
        suffix = uuid.uuid4().hex[:10]
        self.schema = "v_" + suffix
        self.job = "verify_pg_" + suffix
        slot = "megasync_" + self.job
        services.psql(self.source, f"""
            CREATE SCHEMA {self.schema};
            CREATE TABLE {self.schema}.orders(id bigint PRIMARY KEY, customer text NOT NULL,
                amount numeric(12,2), paid boolean, placed timestamptz, doc jsonb, raw bytea,
                note varchar(40));
            INSERT INTO {self.schema}.orders
              SELECT i, 'customer ' || i, i * 1.25, i % 2 = 0,
                     timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
                     jsonb_build_object('n', i), '\\x0102'::bytea,
                     CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN '' ELSE 'n,"' || i END
              FROM generate_series(1, {ROWS}) i;
            CREATE TABLE {self.schema}.scored(id int PRIMARY KEY, score real);
            INSERT INTO {self.schema}.scored SELECT i, i * 0.5 FROM generate_series(1, 100) i;
        """)
        self.addCleanup(services.psql, self.source, f"DROP SCHEMA {self.schema} CASCADE")
        self.addCleanup(services.drop_slot, self.source, slot)
        self.addCleanup(services.psql, self.target,
                        f"DROP SCHEMA IF EXISTS {self.schema} CASCADE; "
                        f"DELETE FROM _megasync_checkpoints WHERE job = '{self.job}'")
        services.psql(self.target, f"CREATE SCHEMA {self.schema}; CREATE TABLE "
                                   f"{self.schema}.scored(id int PRIMARY KEY, "
                                   f"score double precision)")
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  pg_a:
    type: postgres
    url: "{self.source.url}"
  pg_b:
    type: postgres
    url: "{self.target.url}"
jobs:
  {self.job}:
    kind: database
    source: pg_a
    targets: [pg_b]
    tables: [{self.schema}.orders, {self.schema}.scored]
    verify_interval: 0s
""")

    def verify(self, *flags: str, expect: int):
        result = run_cli(["verify", "-c", self.config, self.job, *flags], cwd=self.tmp,
                         timeout=600)
        self.assert_exit(result, expect)
        return result

    def verify_json(self, expect: int) -> dict:
        result = self.verify("--json", expect=expect)
        return json.loads(result.stdout)["targets"]["pg_b"]["collections"]

    def test_server_side_digests_find_and_repair_only_the_differences(self):
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=600)
        self.assert_exit(result, EXIT_OK)
        orders = f"{self.schema}.orders"
        scored = f"{self.schema}.scored"

        equal = self.verify_json(EXIT_OK)
        self.assertEqual(equal[orders]["method"], "server")
        self.assertEqual(equal[orders]["source_rows"], ROWS)
        self.assertEqual(equal[orders]["target_rows"], ROWS)
        self.assertEqual(equal[orders]["source_rows_read"], 0)  # equal: no row pulled
        self.assertEqual(equal[orders]["target_rows_read"], 0)
        # real into double precision prints differently: its rows are read.
        self.assertEqual(equal[scored]["method"], "client")
        self.assertTrue(equal[scored]["equal"])
        self.assertEqual(equal[scored]["source_rows_read"], 100)

        services.psql(self.target, f"""
            UPDATE {orders} SET customer = 'changed' WHERE id IN (10, 150000);
            UPDATE {orders} SET note = NULL WHERE id = 7;
            DELETE FROM {orders} WHERE id IN (20, 199999);
            INSERT INTO {orders} (id, customer) VALUES (500001, 'ghost'), (500002, 'ghost');
        """)
        differs = self.verify_json(EXIT_FAILED)[orders]
        self.assertEqual(differs["method"], "server")
        self.assertFalse(differs["equal"])
        self.assertEqual(sorted(differs["differ_keys"]), ["[10]", "[150000]", "[7]"])
        self.assertEqual(sorted(differs["missing_keys"]), ["[199999]", "[20]"])
        self.assertEqual(sorted(differs["extra_keys"]), ["[500001]", "[500002]"])
        self.assertEqual(differs["target_rows"], ROWS)
        # At most seven leaves of about 49 rows each (200 000 / 4096) are pulled.
        self.assertGreater(differs["source_rows_read"], 0)
        self.assertLess(differs["source_rows_read"], 1000)
        self.assertLess(differs["target_rows_read"], 1000)

        text = self.verify(expect=EXIT_FAILED).stdout
        self.assertIn("server digests; rows read:", text)
        self.assertIn("[500001]", text)

        repaired = self.verify("--repair", expect=EXIT_OK).stdout
        self.assertIn("repaired: 7 changes applied; now equal", repaired)
        self.assertEqual(services.psql(self.target, f"SELECT customer, note IS NULL FROM {orders} "
                                                    f"WHERE id IN (7, 10) ORDER BY id"),
                         [["customer 7", "f"], ["customer 10", "f"]])
        self.assertEqual(services.psql(self.target, f"SELECT count(*) FROM {orders} "
                                                    f"WHERE id IN (20, 199999, 500001)"),
                         [["2"]])
        after = self.verify_json(EXIT_OK)[orders]
        self.assertEqual(after["method"], "server")
        self.assertEqual(after["source_rows_read"], 0)


if __name__ == "__main__":
    unittest.main()
