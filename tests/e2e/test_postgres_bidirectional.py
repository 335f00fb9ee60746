"""Bidirectional PostgreSQL pairs (`direction: bidirectional`, tests/services):
pg_a and pg_b replicate to each other. Rows written on either side arrive at the
other, a change is never sent back to where it was written (replication
origins), concurrent writers on both sides converge by last writer wins on the
version column, every conflict is counted and published as an event, and no
change is applied twice. Config mistakes are rejected by `megasync check`."""

import os
import threading
import time
import unittest
import uuid

import services
from megasync_harness import (EXIT_INVALID, EXIT_OK, DaemonTestCase, run_cli, sha256_hex,
                              wait_for)

VIEWER_TOKEN = "viewer-bidi-token-51c0aa"

# Every row change is logged per side: `audit` by every write (local or
# applied by megasync), `attempts` by every row megasync's applier proposes
# (a BEFORE INSERT trigger fires for each row of INSERT ... ON CONFLICT, even
# when the row then updates nothing). `applied` tells megasync's session
# (it runs under a replication origin) from a local writer.
TABLE_SQL = """
CREATE SCHEMA {s};
CREATE TABLE {s}.items(id int PRIMARY KEY, val text NOT NULL, version bigint NOT NULL);
CREATE TABLE {s}.audit(id int, version bigint, val text, applied boolean);
CREATE TABLE {s}.attempts(id int, version bigint, val text);
CREATE FUNCTION {s}.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {s}.audit VALUES (NEW.id, NEW.version, NEW.val,
                                pg_replication_origin_session_is_setup());
  RETURN NEW;
END $$;
CREATE FUNCTION {s}.attempt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_replication_origin_session_is_setup() THEN
    INSERT INTO {s}.attempts VALUES (NEW.id, NEW.version, NEW.val);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE ON {s}.items
  FOR EACH ROW EXECUTE FUNCTION {s}.audit();
CREATE TRIGGER attempt BEFORE INSERT ON {s}.items
  FOR EACH ROW EXECUTE FUNCTION {s}.attempt();
"""


def metric_sum(text: str, name: str, job: str) -> float:
    """The sum of the series of `name` whose labels include job="<job>"."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and f'job="{job}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


class PostgresBidirectionalTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.a = services.pg_a()
        self.b = services.pg_b()
        suffix = uuid.uuid4().hex[:10]
        self.schema = "bd_" + suffix
        self.job = "pair_" + suffix
        forward = "megasync_" + self.job            # slot and publication on a
        reverse = "megasync_" + self.job + "_reverse"  # on b
        for conn, slot, origin in ((self.a, forward, f"megasync_{self.job}_a"),
                                   (self.b, reverse, f"megasync_{self.job}_b")):
            services.psql(conn, TABLE_SQL.format(s=self.schema))
            # Runs after the daemon is gone (cleanups are last-in first-out).
            self.addCleanup(self.drop_side, conn, slot, origin)
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(self.config_text(0))

    def config_text(self, port: int, interval: str = "1h") -> str:
        api = f"""\
api:
  listen: 127.0.0.1:{port}
  tokens:
    - name: viewer
      sha256: {sha256_hex(VIEWER_TOKEN)}
      role: viewer
""" if port else ""
        return f"""\
state:
  path: state.db
{api}endpoints:
  a:
    type: postgres
    url: "{self.a.url}"
  b:
    type: postgres
    url: "{self.b.url}"
jobs:
  {self.job}:
    kind: database
    interval: {interval}
    source: a
    targets: [b]
    tables: [{self.schema}.items]
    direction: bidirectional
    version_column: version
    conflict_winner: a
    verify_interval: 0s
"""

    # -- helpers -----------------------------------------------------------

    def drop_side(self, conn, slot: str, origin: str) -> None:
        """Drops what the job and the test made on one server. The server may
        take a moment to see megasync's sessions end (an active slot or origin
        cannot be dropped): retried."""
        sql = (f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               f"WHERE slot_name = '{slot}'; DROP PUBLICATION IF EXISTS {slot}; "
               f"SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin "
               f"WHERE roname = '{origin}'; DROP SCHEMA IF EXISTS {self.schema} CASCADE; "
               f"DO $$ BEGIN IF to_regclass('public._megasync_checkpoints') IS NOT NULL THEN "
               f"DELETE FROM public._megasync_checkpoints WHERE job = '{self.job}'; "
               f"END IF; END $$")

        def attempt() -> bool:
            try:
                services.psql(conn, sql)
                return True
            except services.SqlError:
                return False
        wait_for(attempt, 30, f"cleanup on {conn.name}", interval=0.5)

    def sql(self, conn, sql: str) -> list:
        return services.psql(conn, sql)

    def rows(self, conn) -> list:
        return self.sql(conn, f"SELECT id, val, version FROM {self.schema}.items ORDER BY id")

    def sync(self):
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)

    def verify(self):
        result = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)

    def assert_no_echo(self):
        """megasync never proposed to a side a row written on that same side."""
        for conn, side in ((self.a, "A"), (self.b, "B")):
            echoed = self.sql(conn, f"SELECT id, version, val FROM {self.schema}.attempts "
                                    f"WHERE val LIKE '{side}%'")
            self.assertEqual(echoed, [], f"changes written on {side} came back to it")

    def assert_applied_once(self):
        """No change was proposed or written twice on either side."""
        for conn in (self.a, self.b):
            for table in ("attempts", "audit"):
                twice = self.sql(conn, f"SELECT id, version, val, count(*) FROM "
                                       f"{self.schema}.{table} GROUP BY 1, 2, 3 "
                                       f"HAVING count(*) > 1")
                self.assertEqual(twice, [], f"{conn.name} {table}: applied more than once")

    # -- tests -------------------------------------------------------------

    def test_rows_flow_both_ways_without_loop(self):
        # Each side starts with rows of its own: the first run merges them.
        self.sql(self.a, f"INSERT INTO {self.schema}.items "
                         f"SELECT i, 'A' || i, 1 FROM generate_series(1, 100) i")
        self.sql(self.b, f"INSERT INTO {self.schema}.items "
                         f"SELECT i, 'B' || i, 1 FROM generate_series(1001, 1050) i")
        self.sync()
        self.assertEqual(len(self.rows(self.a)), 150)
        self.assertEqual(self.rows(self.a), self.rows(self.b))
        self.assert_no_echo()

        self.sql(self.a, f"INSERT INTO {self.schema}.items VALUES (200, 'A new', 1); "
                         f"UPDATE {self.schema}.items SET val = 'A changed', version = 2 "
                         f"WHERE id = 1001; "
                         f"DELETE FROM {self.schema}.items WHERE id = 7")
        self.sql(self.b, f"INSERT INTO {self.schema}.items VALUES (300, 'B new', 1); "
                         f"UPDATE {self.schema}.items SET val = 'B changed', version = 2 "
                         f"WHERE id = 5; "
                         f"DELETE FROM {self.schema}.items WHERE id = 1002")
        self.sync()
        a_rows = self.rows(self.a)
        self.assertEqual(a_rows, self.rows(self.b))
        ids = {int(r[0]) for r in a_rows}
        self.assertIn(200, ids)
        self.assertIn(300, ids)
        self.assertNotIn(7, ids)
        self.assertNotIn(1002, ids)
        self.assertIn(["5", "B changed", "2"], a_rows)
        self.assertIn(["1001", "A changed", "2"], a_rows)
        # Each change arrived once, at the other side only: a, for example, was
        # offered 300, 5 and the first 50 rows of b, and nothing of its own.
        attempts_a = self.sql(self.a, f"SELECT count(*) FROM {self.schema}.attempts")
        self.assertEqual(attempts_a, [["52"]])
        self.assert_no_echo()
        self.assert_applied_once()

        # Each side's origin records how far it applied the other side's log.
        for conn, side in ((self.a, "a"), (self.b, "b")):
            progress = self.sql(conn, f"SELECT remote_lsn::text FROM pg_replication_origin_status "
                                      f"WHERE external_id = 'megasync_{self.job}_{side}'")
            self.assertEqual(len(progress), 1)
            self.assertNotEqual(progress[0][0], "0/0")

        # A run with nothing new applies nothing in either direction.
        self.sync()
        self.assertEqual(self.sql(self.a, f"SELECT count(*) FROM {self.schema}.attempts"),
                         [["52"]])
        self.assertEqual(self.sql(self.b, f"SELECT count(*) FROM {self.schema}.attempts"),
                         [["102"]])
        self.verify()

    def test_concurrent_writers_converge(self):
        keys = list(range(1, 21))
        self.sql(self.a, f"INSERT INTO {self.schema}.items "
                         f"SELECT i, 'A:' || i || ':1:0', 1 FROM generate_series(1, 20) i")
        daemon = self.start_daemon(lambda port: self.config_text(port, interval="1s"))
        wait_for(lambda: len(self.rows(self.b)) == 20, 120, "the first copy to reach b")

        stop = time.monotonic() + 20
        errors = []

        def writer(conn, side: str):
            n = 0
            try:
                while time.monotonic() < stop:
                    n += 1
                    # Ten updates of random keys, each its own transaction. Every
                    # change is unique: side, key, new version, call and step.
                    self.sql(conn, f"""
                        DO $$ DECLARE k int; BEGIN
                          FOR i IN 1..10 LOOP
                            k := 1 + floor(random() * {len(keys)})::int;
                            UPDATE {self.schema}.items SET version = version + 1,
                              val = '{side}:' || k || ':' || (version + 1) || ':{n}.' || i
                              WHERE id = k;
                            COMMIT;
                          END LOOP;
                        END $$""")
            except Exception as e:  # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(self.a, "A")),
                   threading.Thread(target=writer, args=(self.b, "B"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

        wait_for(lambda: self.rows(self.a) == self.rows(self.b), 180,
                 "a and b to hold the same rows")
        # Every key moved on from its first version, on both sides.
        self.assertTrue(all(int(r[2]) > 1 for r in self.rows(self.a)))
        self.verify()
        self.assert_no_echo()
        self.assert_applied_once()

        conflicts = wait_for(
            lambda: metric_sum(daemon.get("/metrics").text, "megasync_conflicts_total", self.job),
            30, "megasync_conflicts_total")
        self.assertGreater(conflicts, 0)
        events = daemon.events(token=VIEWER_TOKEN, type="sync.conflict", job=self.job,
                               limit="1000")
        self.assertTrue(events, "no sync.conflict event")
        if len(events) < 1000:  # all of them: one per table and batch with conflicts
            self.assertEqual(sum(e["data"]["count"] for e in events), conflicts)
        sample = events[0]["data"]
        self.assertEqual(sample["collection"], f"{self.schema}.items")
        self.assertTrue(sample["samples"])
        self.assertIn(events[0]["endpoint"], ("a", "b"))


class PostgresBidirectionalConfigTest(DaemonTestCase):
    """What a pair needs is checked when the config is loaded."""

    def check(self, job: str, extra_endpoints: str = "") -> str:
        a, b = services.pg_a(), services.pg_b()
        config = os.path.join(self.tmp, "megasync.yaml")
        with open(config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  a:
    type: postgres
    url: "{a.url}"
  b:
    type: postgres
    url: "{b.url}"
  c:
    type: sqlite
    path: c.db
    create: true
jobs:
  pair:
    kind: database
    direction: bidirectional
{job}""")
        result = run_cli(["check", "-c", config], cwd=self.tmp, timeout=60)
        self.assert_exit(result, EXIT_INVALID)
        return result.stdout + result.stderr

    def test_rejected(self):
        cases = [
            ("    source: a\n    targets: [b, c]\n    version_column: v\n",
             "exactly one target"),
            ("    source: a\n    targets: [c]\n    version_column: v\n",
             "endpoint c (type sqlite) cannot be one side of a bidirectional pair"),
            ("    source: a\n    targets: [b]\n", "needs version_column"),
            ("    source: a\n    targets: [b]\n    version_column: v\n    conflict_winner: c\n",
             "conflict_winner c is neither the source a nor the target b"),
            ("    source: a\n    targets: [b]\n    version_column: v\n"
             "    transforms:\n      - type: rename\n        collection: x\n"
             "        collection_to: y\n", "cannot have transforms"),
        ]
        for job, message in cases:
            with self.subTest(message=message):
                self.assertIn(message, self.check(job))


if __name__ == "__main__":
    unittest.main()
