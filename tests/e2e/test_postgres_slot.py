"""The postgres source over the life of its slot and tables:

- a column added at the source reaches every target (added there, with its
  values), and a dropped one is reported while the job keeps going;
- a lost slot fails the job with the fix named, or with on_slot_lost:
  resnapshot starts again from a fresh snapshot;
- the slot's lag is exported as megasync_replication_slot_lag_bytes{job,source}, with
  a source.lag_high event above slot_lag_alert."""

import json
import os
import re
import sqlite3
import unittest
import uuid

import services
from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli, wait_for


class PostgresSlotTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.pg_b = services.pg_b()
        suffix = uuid.uuid4().hex[:10]
        self.schema = s = "l_" + suffix
        self.job = "slot_" + suffix
        self.slot = "megasync_" + self.job
        services.cdc_scratch(self, self.pg, self.pg_b, s, self.job, f"""
            CREATE TABLE {s}.items(id bigint PRIMARY KEY, name text, qty int);
            INSERT INTO {s}.items SELECT i, 'item ' || i, i FROM generate_series(1, 1000) i;
        """)

    def config(self, port: int = 0, extra: str = "") -> str:
        api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
        return f"""\
state:
  path: state.db
{api}endpoints:
  app:
    type: postgres
    url: "{self.pg.url}"
{extra}  backup:
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
    tables: [{self.schema}.items]
    interval: 1s
"""

    def sync(self, extra: str = "", code: int = EXIT_OK):
        path = os.path.join(self.tmp, "megasync.yaml")
        with open(path, "w") as f:
            f.write(self.config(extra=extra))
        result = run_cli(["sync", "-c", path, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, code)
        return result

    def events(self, kind: str) -> list:
        db = sqlite3.connect(os.path.join(self.tmp, "state.db"))
        rows = db.execute("SELECT severity, data FROM events WHERE type = ? AND job = ?",
                          (kind, self.job)).fetchall()
        db.close()
        return [(severity, json.loads(data)) for severity, data in rows]

    def replica(self, columns: str) -> list:
        db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
        rows = db.execute(f'SELECT {columns} FROM "{self.schema}.items" ORDER BY id').fetchall()
        db.close()
        return [["NULL" if v is None else str(v) for v in row] for row in rows]

    def source(self, conn, columns: str) -> list:
        return services.psql(conn, f"SELECT {columns} FROM {self.schema}.items ORDER BY id")

    def test_added_column_reaches_targets_and_a_drop_is_reported(self):
        # One continuous run (interval 0, triggered once) that streams through
        # the ALTER TABLEs, as a long-running job meets them.
        s = self.schema
        d = self.start_daemon(lambda port: self.config(port).replace("interval: 1s",
                                                                     "interval: 0"))
        self.assertEqual(d.post(f"/api/v1/jobs/{self.job}/run").status, 202)

        def converged(columns: str) -> bool:
            want = self.source(self.pg, columns)
            try:
                return self.source(self.pg_b, columns) == want and self.replica(columns) == want
            except (services.SqlError, sqlite3.OperationalError):
                return False  # a table or column not there yet

        wait_for(lambda: converged("id, name, qty"), 120, "the snapshot", interval=0.3)
        services.psql(self.pg, f"""
            ALTER TABLE {s}.items ADD COLUMN note text, ADD COLUMN price numeric(10,2);
            UPDATE {s}.items SET note = 'noted ' || id, price = id * 0.5 WHERE id <= 10;
            INSERT INTO {s}.items VALUES (2001, 'new', 1, 'with note', 9.99);
        """)
        wait_for(lambda: converged("id, name, qty, note, price"), 120, "the new columns",
                 interval=0.3)
        changed = [e for e in d.events() if e["type"] == "schema.changed" and
                   e["job"] == self.job]
        self.assertTrue(any(sorted(e["data"]["added"]) == ["note", "price"] and
                            e["severity"] == "info" for e in changed), changed)

        services.psql(self.pg, f"""
            UPDATE {s}.items SET name = 'before drop' WHERE id = 1;
            ALTER TABLE {s}.items DROP COLUMN qty;
            UPDATE {s}.items SET name = 'after drop' WHERE id = 2;
            INSERT INTO {s}.items VALUES (2002, 'no qty', 'n', 1);
        """)
        wait_for(lambda: converged("id, name, note, price"), 120, "the rows after the drop",
                 interval=0.3)
        dropped = [e for e in d.events() if e["type"] == "schema.changed" and
                   e["job"] == self.job and e["data"]["dropped"]]
        self.assertEqual(len(dropped), 1, dropped)
        self.assertEqual(dropped[0]["severity"], "warning")
        self.assertEqual(dropped[0]["data"]["dropped"], ["qty"])
        # The targets keep the column; the new row has nothing in it.
        self.assertEqual(services.psql(self.pg_b, f"SELECT qty FROM {s}.items WHERE id = 2002"),
                         [["NULL"]])
        self.assertTrue(d.alive(), d.stderr())

    def test_lost_slot_fails_or_resnapshots(self):
        s = self.schema
        self.sync()
        services.psql(self.pg, f"SELECT pg_drop_replication_slot('{self.slot}')")
        services.psql(self.pg, f"UPDATE {s}.items SET name = 'while lost' WHERE id <= 100; "
                               f"INSERT INTO {s}.items VALUES (5000, 'while lost', 0)")
        failed = self.sync(code=EXIT_FAILED)
        self.assertIn(f"replication slot {self.slot} is missing", failed.stderr)
        self.assertIn("on_slot_lost: resnapshot", failed.stderr)

        self.sync(extra="    on_slot_lost: resnapshot\n")
        self.assertEqual(len(self.events("source.position_lost")), 1)
        columns = "id, name, qty"
        want = self.source(self.pg, columns)
        self.assertEqual(self.source(self.pg_b, columns), want)
        self.assertEqual(self.replica(columns), want)
        # And it streams again from the new slot.
        services.psql(self.pg, f"UPDATE {s}.items SET qty = -1 WHERE id = 7")
        self.sync(extra="    on_slot_lost: resnapshot\n")
        self.assertEqual(self.source(self.pg_b, columns), self.source(self.pg, columns))

    def test_slot_lag_is_exported_with_an_alert(self):
        self.sync()
        services.psql(self.pg, f"UPDATE {self.schema}.items SET qty = qty + 1")
        d = self.start_daemon(lambda port: self.config(port, "    slot_lag_alert: 1\n"))
        pattern = re.compile(r'^megasync_replication_slot_lag_bytes\{job="' + self.job +
                             r'",source="app"\} (\d+(\.\d+)?(e\+\d+)?)$', re.M)
        wait_for(lambda: pattern.search(d.get("/metrics").text), 60,
                 "the slot lag metric", interval=0.2)
        wait_for(lambda: [e for e in d.events() if e["type"] == "source.lag_high" and
                          e["job"] == self.job], 60, "a source.lag_high event", interval=0.2)


if __name__ == "__main__":
    unittest.main()
