"""End-to-end tests of the one-shot CLI commands: version, check, jobs, sync, status."""

import json
import os
import re
import sqlite3
import textwrap
import unittest

from megasync_harness import (EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE, SOURCE_DIR,
                              DaemonTestCase, closed_port, run_cli)


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line of `text` containing `needle`."""
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(lines) == 1, f"{needle!r} is on lines {lines}"
    return lines[0]


def column_of(text: str, needle: str) -> int:
    """1-based column where `needle` starts on its line."""
    line = text.splitlines()[line_of(text, needle) - 1]
    return line.index(needle) + 1


class CliTest(DaemonTestCase):

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    # -- version and help ----------------------------------------------------

    def test_version(self):
        result = run_cli(["version"])
        self.assert_exit(result, EXIT_OK)
        self.assertRegex(result.stdout, r"^megasync \d+\.\d+\.\d+\S* \(commit \S+\)\n$")
        flag = run_cli(["--version"])
        self.assert_exit(flag, EXIT_OK)
        self.assertEqual(flag.stdout, result.stdout)

    def test_help_of_every_subcommand(self):
        for sub in ("run", "check", "sync", "jobs", "status", "version"):
            with self.subTest(subcommand=sub):
                result = run_cli([sub, "--help"])
                self.assert_exit(result, EXIT_OK)
                self.assertIn(sub, result.stdout)
        result = run_cli(["--help"])
        self.assert_exit(result, EXIT_OK)
        for sub in ("run", "check", "sync", "jobs", "status", "version"):
            self.assertIn(sub, result.stdout)

    def test_no_subcommand_or_unknown_option_is_a_usage_error(self):
        self.assert_exit(run_cli([]), EXIT_INVALID)
        self.assert_exit(run_cli(["check", "--no-such-option"]), EXIT_INVALID)
        self.assert_exit(run_cli(["sync"]), EXIT_INVALID)  # the job is required

    # -- check ---------------------------------------------------------------

    def test_check_quickstart_is_valid(self):
        path = os.path.join(SOURCE_DIR, "examples", "quickstart.yaml")
        result = run_cli(["check", "-c", path], cwd=self.tmp)
        self.assert_exit(result, EXIT_OK)
        self.assertIn("valid", result.stdout)
        self.assertIn("3 job(s), 4 endpoint(s)", result.stdout)

    def test_check_reports_every_mistake_with_its_position(self):
        text = textwrap.dedent("""\
            state:
              path: state.db
            jobz:
              anything: 1
            endpoints:
              files:
                type: fs
                path: data
                create: true
            jobs:
              slow:
                kind: command
                interval: 10 seconds
                command: [sh, -c, 'true']
              typo:
                kind: comand
                command: [sh, -c, 'true']
            """)
        path = self.write("bad.yaml", text)
        result = run_cli(["check", "-c", path], cwd=self.tmp)
        self.assert_exit(result, EXIT_INVALID)
        err = result.stderr
        loc = re.escape(path)

        # 1. The misspelt section, with a suggestion.
        line = line_of(text, "jobz:")
        self.assertRegex(err, rf"{loc}:{line}:1: jobz: .*unknown top-level key 'jobz'")
        self.assertRegex(err, r"did you mean 'jobs'\?")
        # 2. The bad duration, pointing at the value.
        line, col = line_of(text, "10 seconds"), column_of(text, "10 seconds")
        self.assertRegex(err, rf"{loc}:{line}:{col}: jobs\.slow\.interval: .*duration.*'10 seconds'")
        # 3. The unknown job kind, pointing at the value, with a suggestion.
        line, col = line_of(text, "kind: comand"), column_of(text, "comand")
        self.assertRegex(err, rf"{loc}:{line}:{col}: jobs\.typo\.kind: .*unknown job kind 'comand'"
                              r".*did you mean 'command'\?")
        self.assertRegex(err, r"3 error\(s\); nothing was started")
        # All of them, in file order, and nothing on stdout.
        positions = [int(m) for m in re.findall(rf"^{loc}:(\d+):\d+:", err, re.M)]
        self.assertEqual(positions, sorted(positions))
        self.assertEqual(len(positions), 3, err)
        self.assertEqual(result.stdout, "")
        # `check` does not create the state file nor the endpoint's directory.
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "state.db")))

    def test_check_missing_required_option(self):
        text = textwrap.dedent("""\
            jobs:
              nocommand:
                kind: command
                interval: 5s
            """)
        path = self.write("missing.yaml", text)
        result = run_cli(["check", "-c", path], cwd=self.tmp)
        self.assert_exit(result, EXIT_INVALID)
        self.assertRegex(result.stderr,
                         rf"{re.escape(path)}:\d+:\d+: jobs\.nocommand: .*missing required key "
                         r"'command'")

    def test_check_unset_variable_names_it(self):
        text = textwrap.dedent("""\
            state:
              path: ${MEGASYNC_E2E_UNSET_VARIABLE}/state.db
            jobs:
              a:
                kind: command
                command: [sh, -c, 'true']
            """)
        path = self.write("unset.yaml", text)
        result = run_cli(["check", "-c", path], cwd=self.tmp)
        self.assert_exit(result, EXIT_INVALID)
        line = line_of(text, "MEGASYNC_E2E_UNSET_VARIABLE")
        self.assertRegex(result.stderr, rf"{re.escape(path)}:{line}:\d+: state\.path: .*"
                                        r"MEGASYNC_E2E_UNSET_VARIABLE is not set")
        # Set, the same file is valid.
        result = run_cli(["check", "-c", path], cwd=self.tmp,
                         env={"MEGASYNC_E2E_UNSET_VARIABLE": self.tmp})
        self.assert_exit(result, EXIT_OK)

    def test_check_missing_file(self):
        path = os.path.join(self.tmp, "nope.yaml")
        result = run_cli(["check", "-c", path])
        self.assert_exit(result, EXIT_INVALID)
        self.assertIn(path, result.stderr)
        self.assertIn("cannot read", result.stderr)

    def test_secret_values_never_appear_in_check_errors(self):
        secret = "hunter2-e2e-S3cr3t-value"
        token = "tok-e2e-9f8e7d6c5b4a"
        # Errors found by the loader (a secret used where a duration is due) and
        # by the job factory (a bad env entry in a job that carries the secret).
        loader_text = textwrap.dedent("""\
            jobs:
              backup:
                kind: command
                timeout: ${DB_PASSWORD}
                command: [sh, -c, 'pg_dump']
                env:
                  PGPASSWORD: ${DB_PASSWORD}
              push:
                kind: command
                batch_size: ${API_TOKEN}
                command: [sh, -c, 'true']
            """)
        factory_text = textwrap.dedent("""\
            jobs:
              backup:
                kind: command
                command: [sh, -c, 'pg_dump --password=${DB_PASSWORD}']
                env:
                  PGPASSWORD: ${DB_PASSWORD}
                  BROKEN: [not, a, string]
            """)
        env = {"DB_PASSWORD": secret, "API_TOKEN": token}
        for name, text, expected in (
                ("loader.yaml", loader_text, [r"jobs\.backup\.timeout", r"jobs\.push\.batch_size"]),
                ("factory.yaml", factory_text, [r"jobs\.backup: .*env\.BROKEN"])):
            with self.subTest(config=name):
                path = self.write(name, text)
                result = run_cli(["check", "-c", path], cwd=self.tmp, env=env)
                self.assert_exit(result, EXIT_INVALID)
                for pattern in expected:
                    self.assertRegex(result.stderr, rf"{re.escape(path)}:\d+:\d+: {pattern}")
                for value in (secret, token):
                    self.assertNotIn(value, result.stderr)
                    self.assertNotIn(value, result.stdout)

    # -- jobs ----------------------------------------------------------------

    def test_jobs_lists_the_jobs(self):
        path = self.write("jobs.yaml", """\
            endpoints:
              files:
                type: fs
                path: data
            jobs:
              alpha:
                kind: command
                interval: 30s
                timeout: 5s
                command: [sh, -c, 'true']
              beta:
                kind: command
                enabled: false
                command: [sh, -c, 'true']
            """)
        result = run_cli(["jobs", "-c", path], cwd=self.tmp)
        self.assert_exit(result, EXIT_OK)
        lines = result.stdout.splitlines()
        self.assertTrue(lines[0].startswith("JOB"), result.stdout)
        alpha = next(line for line in lines if line.startswith("alpha"))
        beta = next(line for line in lines if line.startswith("beta"))
        self.assertEqual(alpha.split()[:5], ["alpha", "command", "yes", "30s", "5s"])
        self.assertEqual(beta.split()[:3], ["beta", "command", "no"])

        result = run_cli(["jobs", "-c", path, "--json"], cwd=self.tmp)
        self.assert_exit(result, EXIT_OK)
        listed = {job["name"]: job for job in json.loads(result.stdout)}
        self.assertEqual(set(listed), {"alpha", "beta"})
        self.assertEqual(listed["alpha"]["kind"], "command")
        self.assertTrue(listed["alpha"]["enabled"])
        self.assertFalse(listed["beta"]["enabled"])

    # -- sync ----------------------------------------------------------------

    def sync_config(self) -> str:
        return self.write("sync.yaml", """\
            state:
              path: state.db
            jobs:
              hello:
                kind: command
                command: [sh, -c, 'echo "hello from $MEGASYNC_JOB ($MEGASYNC_TRIGGER)" > out.txt']
              broken:
                kind: command
                retry:
                  max_attempts: 1
                command: [sh, -c, 'echo something went wrong; exit 3']
            """)

    def test_sync_runs_a_job_once(self):
        path = self.sync_config()
        result = run_cli(["sync", "-c", path, "hello"], cwd="/")
        self.assert_exit(result, EXIT_OK)
        self.assertRegex(result.stdout, r"hello: succeeded in [\d.]+ s")
        # The command ran in the config file's directory, with the job's variables.
        with open(os.path.join(self.tmp, "out.txt")) as f:
            self.assertEqual(f.read(), "hello from hello (cli)\n")
        db = sqlite3.connect(os.path.join(self.tmp, "state.db"))
        self.addCleanup(db.close)
        rows = db.execute('SELECT job, "trigger", outcome, attempts FROM runs').fetchall()
        self.assertEqual(rows, [("hello", "cli", "succeeded", 1)])

    def test_sync_of_a_failing_job_exits_1_with_the_error(self):
        path = self.sync_config()
        result = run_cli(["sync", "-c", path, "broken"], cwd=self.tmp)
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn("broken: failed after 1 attempt(s)", result.stderr)
        self.assertIn("exit status 3", result.stderr)
        self.assertIn("something went wrong", result.stderr)
        db = sqlite3.connect(os.path.join(self.tmp, "state.db"))
        self.addCleanup(db.close)
        rows = db.execute("SELECT job, outcome, error FROM runs").fetchall()
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][:2], ("broken", "failed"))
        self.assertIn("exit status 3", rows[0][2])

    def test_sync_redacts_secrets_in_the_error(self):
        secret = "pw-e2e-Zq8xW3rT"
        path = self.write("secret.yaml", """\
            state:
              path: state.db
            jobs:
              leaky:
                kind: command
                retry:
                  max_attempts: 1
                env:
                  DB_PASSWORD: ${DB_PASSWORD}
                command: [sh, -c, 'echo "connecting with $$DB_PASSWORD"; exit 4']
            """)
        result = run_cli(["sync", "-c", path, "leaky"], cwd=self.tmp, env={"DB_PASSWORD": secret})
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn("connecting with ***", result.stderr)
        self.assertNotIn(secret, result.stderr + result.stdout)
        db = sqlite3.connect(os.path.join(self.tmp, "state.db"))
        self.addCleanup(db.close)
        runs = repr(db.execute("SELECT * FROM runs").fetchall())
        self.assertIn("connecting with ***", runs)
        for table in ("runs", "events", "audit"):
            self.assertNotIn(secret, repr(db.execute(f"SELECT * FROM {table}").fetchall()), table)

    def test_sync_of_an_unknown_job_exits_2(self):
        path = self.sync_config()
        result = run_cli(["sync", "-c", path, "nosuchjob"], cwd=self.tmp)
        self.assert_exit(result, EXIT_INVALID)
        self.assertIn("no job named 'nosuchjob'", result.stderr)
        self.assertIn("hello", result.stderr)  # the jobs there are

    # -- status --------------------------------------------------------------

    def test_status_of_an_unreachable_daemon_exits_3(self):
        port = closed_port()
        result = run_cli(["status", "--api", f"http://127.0.0.1:{port}"], timeout=30)
        self.assert_exit(result, EXIT_UNREACHABLE)
        self.assertIn(f"cannot reach the daemon at http://127.0.0.1:{port}", result.stderr)


if __name__ == "__main__":
    unittest.main()
