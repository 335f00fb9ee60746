"""Every PostgreSQL type the CDC source supports, from a real PostgreSQL
(tests/services) into PostgreSQL, MariaDB and SQLite targets at once: a
snapshot of rows with edge values and a row of NULLs, then inserts and updates
of every column streamed by logical replication, and an update next to an
unchanged TOASTed value. Each target's values are read back with SQL on its
side and compared with the source's, normalised only as the mapping table of
src/connectors/postgres/README.md says; `megasync verify` agrees.

Non-finite doubles and dates MariaDB cannot hold (BC, infinity) go to the
PostgreSQL and SQLite targets in a job of their own; MariaDB refuses them with
an error naming the column."""

import json
import math
import os
import sqlite3
import unittest
import uuid

import services
from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli

BIG = "(SELECT string_agg(md5(i::text || '{seed}'), '') FROM generate_series(1, 250) i)"

# (column, declared type, kind): the kind picks the comparison for each target
# (the mapping table in src/connectors/postgres/README.md).
COLUMNS = [
    ("c_smallint", "smallint", "int"),
    ("c_int", "integer", "int"),
    ("c_bigint", "bigint", "int"),
    ("c_numeric", "numeric", "text"),
    ("c_numeric_p", "numeric(40,10)", "text"),
    ("c_real", "real", "float"),
    ("c_double", "double precision", "float"),
    ("c_text", "text", "text"),
    ("c_varchar", "varchar(20)", "text"),
    ("c_char", "char(5)", "text"),
    ("c_bool", "boolean", "bool"),
    ("c_date", "date", "text"),
    ("c_time", "time", "text"),
    ("c_timestamp", "timestamp", "timestamp"),
    ("c_timestamptz", "timestamptz", "timestamptz"),
    ("c_interval", "interval", "text"),
    ("c_uuid", "uuid", "text"),
    ("c_json", "json", "text"),
    ("c_jsonb", "jsonb", "text"),
    ("c_bytea", "bytea", "bytes"),
    ("c_int_array", "integer[]", "array"),
    ("c_text_array", "text[]", "array"),
    ("c_mood", "{schema}.mood", "text"),
    ("c_big", "text", "text"),
]
NAMES = [c[0] for c in COLUMNS]
KINDS = {c[0]: c[2] for c in COLUMNS}

# Rows of values, as SQL literals in COLUMNS order.
TYPICAL = [
    "42", "100000", "10000000000", "'3.14159'", "'2.50'", "1.1", "2.2",
    "'hello'", "'varchar'", "'ab'", "true", "'2024-02-29'", "'13:14:15.5'",
    "'2024-01-02 03:04:05.123456'", "'2024-01-02 05:04:05.123+02'", "'1 day 02:03:04'",
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'{\"b\": 1, \"a\": [1, 2.50]}'",
    "'{\"b\": 1, \"a\": [1, 2.50]}'", "'\\x0102ff'::bytea", "'{1,2,3}'", "'{a,b}'", "'happy'",
    "'short'",
]
LOW = [
    "-32768", "-2147483648", "-9223372036854775808", "'NaN'",
    "'123456789012345678901234567890.1234567890'", "'-3.4028235e+38'",
    "'-1.7976931348623157e+308'",
    "E'quote '' dq \" back\\\\slash tab\\t nl\\n cr\\r \u00fcn\u00efc\u00f6de \U0001F600'",
    "'12345678901234567890'", "'a'", "false", "'0001-01-01'", "'00:00:00'",
    "'0001-01-01 00:00:00'", "'0001-01-01 00:00:00+00'",
    "'-1 years -2 mons +3 days -04:05:06.789'", "'00000000-0000-0000-0000-000000000000'",
    "'[]'", "'{\"\u00e9\": \"\\n\", \"n\": null, \"big\": 12345678901234567890.5}'",
    "'\\x00'::bytea", "'{}'", "'{}'", "'it''s \"ok\"'", "''",
]
HIGH = [
    "32767", "2147483647", "9223372036854775807", "'-0.000000000000000000001'",
    "'-1.5'", "'1.17549435e-38'", "'5e-324'", "''", "''", "''", "true", "'9999-12-31'",
    "'24:00:00'", "'9999-12-31 23:59:59.999999'", "'2038-01-19 03:14:08.5+05:30'",
    "'178000000 years'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
    "'  {\"dup\": 1, \"dup\": 2}  '", "'[1, \"two\", {\"x\": [true, false]}]'",
    "''::bytea", "'{1,NULL,-3}'",
    "ARRAY['a b', 'NULL', NULL, 'q\"uote', 'back\\slash', '', '{brace}', 'comma,']",
    "'sad'", "'x'",
]
NULLS = ["NULL"] * len(COLUMNS)


def row_sql(row_id: int, values: list) -> str:
    return f"({row_id}, {', '.join(values)})"


def hex_text(text: str) -> str:
    return None if text == "NULL" else bytes.fromhex(text).decode()


def pg_time_to_iso(text: str) -> str:
    """PostgreSQL's timestamp output ("2024-01-02 03:04:05.5") as megasync's
    ISO text ("2024-01-02T03:04:05.5")."""
    return text.replace(" ", "T", 1)


def micros6(text: str) -> str:
    """A timestamp with its fraction padded to 6 digits, as DATETIME(6) prints it."""
    head, _, fraction = text.partition(".")
    return f"{head}.{fraction:0<6}"


class PostgresTypesTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.pgb = services.pg_b()
        self.maria = services.mariadb()
        suffix = uuid.uuid4().hex[:10]
        self.schema = "ty_" + suffix
        self.job = "types_" + suffix
        self.table = f"{self.schema}.all_types"
        slot = "megasync_" + self.job
        columns = ", ".join(f"{name} {decl.format(schema=self.schema)}"
                            for name, decl, _ in COLUMNS)
        services.psql(self.pg, f"""
            CREATE SCHEMA {self.schema};
            CREATE TYPE {self.schema}.mood AS ENUM ('happy', 'sad', 'it''s "ok"');
            CREATE TABLE {self.table}(id int PRIMARY KEY, {columns});
            INSERT INTO {self.table} VALUES {row_sql(1, TYPICAL)}, {row_sql(2, LOW)},
                {row_sql(3, HIGH)}, {row_sql(4, NULLS)};
        """)
        # A row with values TOASTed out of line (incompressible, > 2 kB).
        services.psql(self.pg, f"""
            INSERT INTO {self.table} (id, c_int, c_big, c_jsonb)
            SELECT 5, 1, {BIG.format(seed='a')}, jsonb_build_object('k', {BIG.format(seed='b')})
        """)
        self.addCleanup(services.psql, self.pg,
                        f"SELECT pg_drop_replication_slot('{slot}') FROM pg_replication_slots "
                        f"WHERE slot_name = '{slot}'; DROP PUBLICATION IF EXISTS {slot}; "
                        f"DROP SCHEMA {self.schema} CASCADE")
        self.addCleanup(services.psql, self.pgb,
                        f"DROP SCHEMA IF EXISTS {self.schema} CASCADE; "
                        f"DELETE FROM _megasync_checkpoints WHERE job = '{self.job}'")
        # The target's database, as a user without CREATE DATABASE would need it.
        services.mariadb_sql(self.maria, f"CREATE DATABASE {self.schema}")
        self.addCleanup(services.mariadb_sql, self.maria,
                        f"DROP DATABASE IF EXISTS {self.schema}; "
                        f"DELETE FROM _megasync_checkpoints WHERE job = '{self.job}'")
        self.config = os.path.join(self.tmp, "megasync.yaml")
        with open(self.config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  app:
    type: postgres
    url: "{self.pg.url}"
  pgb:
    type: postgres
    url: "{self.pgb.url}"
  maria:
    type: mariadb
    url: "{self.maria.url}"
  lite:
    type: sqlite
    path: replica.db
    create: true
jobs:
  {self.job}:
    kind: database
    source: app
    targets: [pgb, maria, lite]
    tables: [{self.table}]
""")

    # --- reading each side ---------------------------------------------------

    def pg_rows(self, conn) -> dict:
        """id -> {column: PostgreSQL output text or None}; timestamptz as the
        UTC timestamp; arrays also as array_to_json under column + '/json'."""
        exprs = []
        for name in NAMES:
            value = f"{name} AT TIME ZONE 'UTC'" if KINDS[name] == "timestamptz" else name
            exprs.append(f"encode(convert_to(format('%s', {value}), 'UTF8'), 'hex')")
        # Arrays of the target may be native or JSON: array_to_json only on arrays.
        types = dict(services.psql(conn, f"""
            SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = '{self.table}'::regclass AND attnum > 0"""))
        for name in NAMES:
            if KINDS[name] == "array":
                json_expr = f"array_to_json({name})" if types[name].endswith("]") else name
                exprs.append(f"encode(convert_to(({json_expr})::text, 'UTF8'), 'hex')")
        select = ", ".join(f"CASE WHEN {n} IS NULL THEN 'NULL' ELSE {e} END"
                           for n, e in zip(NAMES + [n for n in NAMES if KINDS[n] == "array"],
                                           exprs))
        out = {}
        for row in services.psql(conn, f"SELECT id, {select} FROM {self.table} ORDER BY id"):
            values = [hex_text(v) for v in row[1:]]
            record = dict(zip(NAMES, values))
            for name, value in zip([n for n in NAMES if KINDS[n] == "array"],
                                   values[len(NAMES):]):
                record[name + "/json"] = value
            out[int(row[0])] = record
        return out

    def maria_rows(self) -> dict:
        select = ", ".join(f"HEX(CONCAT({name}))" for name in NAMES)
        out = {}
        for row in services.mariadb_sql(
                self.maria, f"SELECT id, {select} FROM {self.schema}.all_types ORDER BY id"):
            out[int(row[0])] = {
                name: None if v == "NULL" else bytes.fromhex(v) for name, v in zip(NAMES, row[1:])}
        return out

    def sqlite_rows(self) -> dict:
        db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
        try:
            rows = db.execute(f'SELECT id, {", ".join(NAMES)} FROM "{self.table}" '
                              f'ORDER BY id').fetchall()
        finally:
            db.close()
        return {row[0]: dict(zip(NAMES, row[1:])) for row in rows}

    # --- the mapping, per target ---------------------------------------------

    def expected_maria(self, name: str, source: dict):
        """What MariaDB holds for the source's value (as the bytes of CONCAT)."""
        text = source[name]
        kind = KINDS[name]
        if text is None:
            return None
        if kind == "bool":
            return b"1" if text == "t" else b"0"
        if kind == "bytes":
            return bytes.fromhex(text[2:])  # LONGBLOB of the bytes
        if kind in ("timestamp", "timestamptz"):
            return micros6(text).encode()  # DATETIME(6), UTC
        if kind == "array":
            return source[name + "/json"].encode()  # LONGTEXT, JSON array
        return text.encode()  # exact text (LONGTEXT, BIGINT, DATE)

    def check_maria(self, name: str, source: dict, target) -> None:
        expected = self.expected_maria(name, source)
        if KINDS[name] == "float" and expected is not None and target is not None:
            self.assertEqual(float(target), float(source[name]), name)
        elif KINDS[name] == "array" and expected is not None and target is not None:
            self.assertEqual(json.loads(target), json.loads(expected), name)
        else:
            self.assertEqual(target, expected, name)

    def check_sqlite(self, name: str, source: dict, target) -> None:
        text = source[name]
        kind = KINDS[name]
        if text is None:
            self.assertIsNone(target, name)
        elif kind == "int":
            self.assertEqual(target, int(text), name)
        elif kind == "float":
            value = float(text)
            if math.isnan(value):
                self.assertEqual(target, "NaN", name)  # SQLite stores NaN as NULL: text
            else:
                self.assertEqual(target, value, name)
        elif kind == "bool":
            self.assertEqual(target, 1 if text == "t" else 0, name)
        elif kind == "bytes":
            self.assertEqual(target, bytes.fromhex(text[2:]), name)
        elif kind == "timestamp":
            self.assertEqual(target, pg_time_to_iso(text), name)
        elif kind == "timestamptz":
            self.assertEqual(target, pg_time_to_iso(text) + "Z", name)
        elif kind == "array":
            self.assertEqual(json.loads(target), json.loads(source[name + "/json"]), name)
        else:
            self.assertEqual(target, text, name)

    def assert_targets_equal(self) -> None:
        source = self.pg_rows(self.pg)
        pgb = self.pg_rows(self.pgb)
        maria = self.maria_rows()
        lite = self.sqlite_rows()
        self.assertEqual(sorted(pgb), sorted(source))
        self.assertEqual(sorted(maria), sorted(source))
        self.assertEqual(sorted(lite), sorted(source))
        for row_id, row in source.items():
            with self.subTest(row=row_id):
                for name in NAMES:
                    # PostgreSQL: the source's own types, every value exact.
                    self.assertEqual(pgb[row_id][name], row[name], f"pg {name}")
                    self.check_maria(name, row, maria[row_id][name])
                    self.check_sqlite(name, row, lite[row_id][name])

    def sync(self, job=None, code=EXIT_OK):
        result = run_cli(["sync", "-c", self.config, job or self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, code)
        return result

    def verify(self, job=None) -> None:
        result = run_cli(["verify", "-c", self.config, job or self.job], cwd=self.tmp,
                         timeout=120)
        self.assert_exit(result, EXIT_OK)

    # --- tests -----------------------------------------------------------------

    def test_types_snapshot_then_stream(self):
        self.sync()
        self.assert_targets_equal()
        # The PostgreSQL target was created from the source's relation.
        self.assertEqual(
            services.psql(self.pgb, f"""
                SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                WHERE a.attrelid = '{self.table}'::regclass AND a.attnum > 0
                  AND a.attname IN ('c_smallint', 'c_numeric_p', 'c_char', 'c_json',
                                    'c_int_array', 'c_mood') ORDER BY a.attname"""),
            [["c_char", "character(5)"], ["c_int_array", "integer[]"], ["c_json", "json"],
             ["c_mood", "text"], ["c_numeric_p", "numeric(40,10)"],
             ["c_smallint", "smallint"]])
        self.assertEqual(services.psql(self.pgb, f"""
            SELECT a.attname FROM pg_index i JOIN pg_attribute a
              ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = '{self.table}'::regclass AND i.indisprimary"""), [["id"]])
        self.verify()

        sets = lambda values: ", ".join(f"{n} = {v}" for n, v in zip(NAMES, values))
        services.psql(self.pg, f"""
            INSERT INTO {self.table} VALUES {row_sql(11, TYPICAL)}, {row_sql(12, LOW)},
                {row_sql(13, HIGH)}, {row_sql(14, NULLS)};
            UPDATE {self.table} SET {sets(HIGH)} WHERE id = 1;
            UPDATE {self.table} SET {sets(NULLS)} WHERE id = 2;
            UPDATE {self.table} SET {sets(LOW)} WHERE id = 4;
            UPDATE {self.table} SET c_int = 2 WHERE id = 5;
        """)
        big = services.psql(self.pg, f"SELECT md5(c_big), md5(c_jsonb::text) FROM {self.table} "
                                     f"WHERE id = 5")
        self.sync()
        self.assert_targets_equal()
        # The unchanged TOASTed values were kept, not overwritten with NULL.
        self.assertEqual(services.psql(self.pgb, f"SELECT md5(c_big), md5(c_jsonb::text) "
                                                 f"FROM {self.table} WHERE id = 5"), big)
        self.assertEqual(self.maria_rows()[5]["c_int"], b"2")
        self.verify()

    def test_values_mariadb_cannot_hold(self):
        """NaN, infinities, BC and infinite dates: exact in PostgreSQL and
        SQLite; MariaDB refuses them with the column named."""
        table = f"{self.schema}.extremes"
        services.psql(self.pg, f"""
            CREATE TABLE {table}(id int PRIMARY KEY, r real, d double precision, n numeric,
                dt date, ts timestamp, tz timestamptz, fa float8[]);
            INSERT INTO {table} VALUES
              (1, 'NaN', 'Infinity', 'NaN', '0044-03-15 BC', '0001-01-01 00:00:00 BC',
               '0001-01-01 00:00:00+00 BC', '{{NaN,Infinity,-Infinity,1.5}}'),
              (2, '-Infinity', 'NaN', '-0.5', 'infinity', '-infinity', 'infinity', NULL),
              (3, 1.5, '-0', 0, '12345-06-07', '12345-06-07 01:02:03', '12345-06-07 01:02:03Z',
               '{{}}');
        """)
        job = "ext_" + self.job
        slot = "megasync_" + job
        self.addCleanup(services.psql, self.pg,
                        f"SELECT pg_drop_replication_slot('{slot}') FROM pg_replication_slots "
                        f"WHERE slot_name = '{slot}'; DROP PUBLICATION IF EXISTS {slot}")
        self.addCleanup(services.psql, self.pgb,
                        f"DELETE FROM _megasync_checkpoints WHERE job = '{job}'")
        with open(self.config, "a") as f:
            f.write(f"""\
  {job}:
    kind: database
    source: app
    targets: [pgb, lite]
    tables: [{table}]
""")
        self.sync(job)
        services.psql(self.pg, f"""
            INSERT INTO {table} SELECT id + 10, r, d, n, dt, ts, tz, fa FROM {table};
            UPDATE {table} SET r = 'Infinity', d = '-Infinity', dt = '-infinity' WHERE id = 3;
        """)
        self.sync(job)
        columns = "id, r, d, n, dt, ts, tz, fa"
        query = (f"SET TimeZone = 'UTC'; SELECT {columns} FROM {table} ORDER BY id")
        source = services.psql(self.pg, query)
        self.assertEqual(len(source), 6)
        self.assertEqual(services.psql(self.pgb, query), source)
        db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
        try:
            lite = db.execute(f'SELECT id, r, d, n, dt, ts, tz, fa FROM "{table}" '
                              f'WHERE id IN (1, 2) ORDER BY id').fetchall()
        finally:
            db.close()
        inf = float("inf")
        self.assertEqual(lite, [
            (1, "NaN", inf, "NaN", "-0043-03-15", "0000-01-01T00:00:00", "0000-01-01T00:00:00Z",
             '["NaN","Infinity","-Infinity",1.5]'),
            (2, -inf, "NaN", "-0.5", "infinity", "-infinity", "infinity", None)])
        self.verify(job)

        maria_job = "extm_" + self.job
        self.addCleanup(services.psql, self.pg,
                        f"SELECT pg_drop_replication_slot('megasync_{maria_job}') FROM "
                        f"pg_replication_slots WHERE slot_name = 'megasync_{maria_job}'; "
                        f"DROP PUBLICATION IF EXISTS megasync_{maria_job}")
        with open(self.config, "a") as f:
            f.write(f"""\
  {maria_job}:
    kind: database
    source: app
    targets: [maria]
    tables: [{table}]
""")
        result = self.sync(maria_job, EXIT_FAILED)
        self.assertIn("MariaDB cannot store the double", result.stderr)


if __name__ == "__main__":
    unittest.main()
