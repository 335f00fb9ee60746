"""The acceptance scenario: a real daemon with a scheduled and a manual job, an
endpoint, tokens, metrics, a trigger, a good and a bad SIGHUP reload, a clean
SIGTERM, and what the state file holds afterwards."""

import json
import re
import time
import unittest

from megasync_harness import (EXIT_OK, EXIT_UNREACHABLE, DaemonTestCase, run_cli, sha256_hex,
                              wait_for)

VIEWER_TOKEN = "viewer-e2e-token-7b1f0c"
OPERATOR_TOKEN = "operator-e2e-token-3d9a42"
VIEWER_NAME = "dashboards"
OPERATOR_NAME = "ops-alice"
GRACE_SECONDS = 10


def config(port: int, *, manual_interval: str = "1h", extra_jobs: str = "",
           extra_top: str = "") -> str:
    return f"""\
# megasync e2e: acceptance scenario
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
  tokens:
    - name: {VIEWER_NAME}
      sha256: {sha256_hex(VIEWER_TOKEN)}
      role: viewer
    - name: {OPERATOR_NAME}
      sha256: {sha256_hex(OPERATOR_TOKEN).upper()}
      role: operator
daemon:
  grace_period: {GRACE_SECONDS}s
  monitoring_interval: 1s
  probe_timeout: 2s
endpoints:
  files:
    type: fs
    path: data
    create: true
{extra_top}jobs:
  ticker:
    kind: command
    description: Appends a line every second.
    interval: 1s
    timeout: 10s
    command: [sh, -c, 'echo tick >> ticks.txt']
  manual:
    kind: command
    interval: {manual_interval}
    command: [sh, -c, 'echo "run by $MEGASYNC_TRIGGER" >> manual.txt']
{extra_jobs}"""


ADDED_JOB = """\
  added:
    kind: command
    interval: 1h
    command: [sh, -c, 'echo added >> added.txt']
"""


def metric_value(text: str, series: str) -> float:
    """The value of one exact series (`name{labels}`) in a Prometheus text page."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line[len(series) + 1:])
    raise AssertionError(f"no series {series} in /metrics:\n{text}")


class AcceptanceTest(DaemonTestCase):

    def test_acceptance_scenario(self):
        started = time.monotonic()
        d = self.start_daemon(lambda port: config(port))
        V, O = VIEWER_TOKEN, OPERATOR_TOKEN

        # -- probes --------------------------------------------------------
        self.assertEqual(d.get("/livez").text, "ok\n")
        ready = d.get("/readyz?verbose")
        self.assertEqual(ready.status, 200, ready)
        self.assertIn("[+]state ok", ready.text)
        self.assertIn("readyz check passed", ready.text)

        # Wait for a few ticker runs and a first health check of the endpoint.
        wait_for(lambda: d.job("ticker", V)["runs"] >= 2, 15, "two runs of ticker")
        wait_for(lambda: d.get_json("/api/v1/status", token=V)["endpoints"]["files"]["health"]
                 == "up", 15, "the fs endpoint to be up")

        # -- metrics (open: protect_metrics is off) -------------------------
        metrics = d.get("/metrics")
        self.assertEqual(metrics.status, 200)
        self.assertEqual(metrics.headers["content-type"],
                         "text/plain; version=0.0.4; charset=utf-8")
        text = metrics.text
        self.assertRegex(text, r'(?m)^megasync_build_info\{version="[^"]+",commit="[^"]*"\} 1$')
        self.assertGreaterEqual(
            metric_value(text, 'megasync_job_runs_total{job="ticker",outcome="succeeded"}'), 2)
        self.assertEqual(metric_value(text, 'megasync_endpoint_up{endpoint="files"}'), 1)
        self.assertGreater(metric_value(text, "process_resident_memory_bytes"), 1e6)
        self.assertIn("# TYPE megasync_job_run_duration_seconds histogram", text)
        self.assertRegex(
            text, r'(?m)^megasync_job_run_duration_seconds_bucket\{job="ticker",le="\+Inf"\} \d+$')
        self.assertRegex(text, r'(?m)^megasync_job_run_duration_seconds_sum\{job="ticker"\} \S+$')
        count = metric_value(text, 'megasync_job_run_duration_seconds_count{job="ticker"}')
        inf = metric_value(text,
                           'megasync_job_run_duration_seconds_bucket{job="ticker",le="+Inf"}')
        self.assertEqual(count, inf)
        self.assertGreaterEqual(count, 2)
        for line in text.splitlines():  # every line a comment or `series value`
            self.assertRegex(line, r"^(# (HELP|TYPE) \S+ .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+)$")

        # -- status ----------------------------------------------------------
        status = d.get_json("/api/v1/status", token=V)
        self.assertEqual(status["daemon"]["health"], "healthy", status)
        self.assertEqual(status["daemon"]["config"], d.config_path)
        self.assertFalse(status["daemon"]["draining"])
        self.assertEqual(status["daemon"]["pid"], d.proc.pid)
        jobs = {job["name"]: job for job in status["jobs"]}
        self.assertEqual(set(jobs), {"ticker", "manual"})
        self.assertEqual(jobs["ticker"]["last_run"]["outcome"], "succeeded")
        self.assertEqual(jobs["ticker"]["interval_seconds"], 1.0)
        self.assertEqual(jobs["ticker"]["description"], "Appends a line every second.")
        # `manual` ran once at start (schedules begin with a run).
        wait_for(lambda: d.job("manual", V)["last_run"], 10, "manual's first run")
        self.assertEqual(status["endpoints"]["files"]["health"], "up")
        self.assertEqual(status["endpoints"]["files"]["type"], "fs")

        # -- `megasync status` against the live daemon --------------------------------
        table = run_cli(["status", "--api", d.base_url, "--token", V])
        self.assert_exit(table, EXIT_OK)
        self.assertIn(f"pid {d.proc.pid}", table.stdout)
        self.assertRegex(table.stdout, r"(?m)^ticker\s+command\s+\S+\s+succeeded\s")
        self.assertRegex(table.stdout, r"(?m)^files\s+fs\s+up\b")
        as_json = run_cli(["status", "-c", d.config_path, "--json"],
                          env={"MEGASYNC_API_TOKEN": V})
        self.assert_exit(as_json, EXIT_OK)
        self.assertEqual(json.loads(as_json.stdout)["daemon"]["pid"], d.proc.pid)
        unauthorized = run_cli(["status", "--api", d.base_url])
        self.assert_exit(unauthorized, EXIT_UNREACHABLE)
        self.assertIn("401", unauthorized.stderr)
        self.assertIn("--token", unauthorized.stderr)

        # -- authentication and roles ------------------------------------------
        for path in ("/api/v1/status", "/api/v1/jobs", "/api/v1/jobs/ticker/runs",
                     "/api/v1/events"):
            with self.subTest(path=path):
                answer = d.get(path)
                self.assertEqual(answer.status, 401, answer)
                self.assertEqual(answer.headers.get("www-authenticate"),
                                 'Bearer realm="megasync"')
                self.assertIn("error", answer.json())
                self.assertEqual(d.get(path, token="not-a-known-token").status, 401)
                self.assertEqual(d.get(path, token=O).status, 200)  # operator >= viewer
        self.assertEqual(d.get("/api/v1/nope", token=V).status, 404)
        wrong_method = d.request("DELETE", "/api/v1/jobs/manual/run", token=O)
        self.assertEqual(wrong_method.status, 405)
        self.assertIn("POST", wrong_method.headers.get("allow", ""))
        self.assertEqual(d.post("/api/v1/jobs/manual/run").status, 401)
        denied = d.post("/api/v1/jobs/manual/run", token=V)
        self.assertEqual(denied.status, 403, denied)
        self.assertIn("operator", denied.json()["error"])
        self.assertEqual(d.post("/api/v1/jobs/nosuchjob/run", token=O).status, 404)
        # The denials triggered nothing.
        self.assertEqual([r for r in d.runs("manual", V) if r["trigger"] == "api"], [])

        # -- trigger -------------------------------------------------------------
        accepted = d.post("/api/v1/jobs/manual/run", token=O)
        self.assertEqual(accepted.status, 202, accepted)
        self.assertEqual(accepted.json(), {"job": "manual", "queued": True})
        api_run = wait_for(
            lambda: next((r for r in d.runs("manual", V)
                          if r["trigger"] == "api" and r["outcome"] == "succeeded"), None),
            15, "the triggered run of manual to succeed")
        self.assertEqual(api_run["job"], "manual")
        self.assertEqual(api_run["attempts"], 1)
        self.assertIsNotNone(api_run["finished_at"])
        with open(d.path("manual.txt")) as f:
            self.assertIn("run by api\n", f.read())

        events = d.events(V, job="manual")
        types = [e["type"] for e in events]
        self.assertIn("sync.started", types)
        self.assertIn("sync.completed", types)
        completed = [e for e in events if e["type"] == "sync.completed"
                     and e["data"]["run_id"] == api_run["id"]]
        self.assertEqual(len(completed), 1, events)
        self.assertEqual(completed[0]["data"]["trigger"], "api")
        self.assertEqual(completed[0]["data"]["outcome"], "succeeded")
        self.assertTrue(all(e["job"] == "manual" for e in events))
        started_only = d.events(V, type="sync.started", job="manual")
        self.assertTrue(started_only and all(e["type"] == "sync.started" for e in started_only))
        self.assertEqual(d.get("/api/v1/events?limit=0", token=V).status, 400)

        # -- a good reload: one job added, one changed, ticker untouched -------------
        wait_for(lambda: d.job("ticker", V)["runs"] >= 3, 15, "three runs of ticker")
        ticker_before = d.job("ticker", V)
        manual_runs_before = d.job("manual", V)["runs"]
        self.assertGreaterEqual(manual_runs_before, 2)
        d.write_config(config(d.port, manual_interval="2h", extra_jobs=ADDED_JOB))
        d.sighup()
        wait_for(lambda: "added" in {j["name"] for j in d.get_json("/api/v1/jobs", token=V)["jobs"]},
                 15, "job 'added' to appear after SIGHUP")
        wait_for(lambda: "configuration reloaded" in d.stderr(), 10, "the reload to be logged")
        self.assertIn("configuration reloaded: 1 job(s) added, 1 changed, 0 removed", d.stderr())
        ticker_after = d.job("ticker", V)
        # The same runner: its counters carried on instead of starting from zero.
        self.assertGreaterEqual(ticker_after["runs"], ticker_before["runs"])
        self.assertGreaterEqual(ticker_after["last_run"]["id"], ticker_before["last_run"]["id"])
        manual_after = d.job("manual", V)
        self.assertEqual(manual_after["interval_seconds"], 7200.0)
        self.assertLess(manual_after["runs"], manual_runs_before)  # a new runner
        wait_for(lambda: d.job("added", V)["last_run"] is not None, 15, "a run of 'added'")
        # ...and ticker keeps its schedule after the reload.
        wait_for(lambda: d.job("ticker", V)["runs"] >= ticker_before["runs"] + 2, 15,
                 "ticker to keep running after the reload")
        reloaded = d.events(V, type="config.reloaded")
        self.assertEqual(len(reloaded), 1, reloaded)
        self.assertEqual(reloaded[0]["data"], {"added": 1, "changed": 1, "removed": 0})
        self.assertEqual(
            metric_value(d.get("/metrics").text, 'megasync_config_reloads_total{outcome="ok"}'), 1)

        # -- a broken reload: rejected, the running configuration stays --------------
        broken = config(d.port, manual_interval="2h", extra_jobs=ADDED_JOB,
                        extra_top="monitoring:\n  enabled: true\n")
        bad_line = broken.splitlines().index("monitoring:") + 1
        d.write_config(broken)
        d.sighup()
        wait_for(lambda: "reload rejected" in d.stderr(), 15, "the reload to be rejected")
        wait_for(lambda: "previous configuration stays in force" in d.stderr(), 10,
                 "the end of the rejection")
        log = d.stderr()
        self.assertRegex(log, rf"reload rejected: {re.escape(d.config_path)}:{bad_line}:1: "
                              r"monitoring: .*unknown top-level key 'monitoring'")
        self.assertTrue(d.alive())
        self.assertEqual(d.get("/readyz").status, 200)
        after_rejection = d.get_json("/api/v1/jobs", token=V)["jobs"]
        self.assertEqual({j["name"] for j in after_rejection}, {"ticker", "manual", "added"})
        self.assertEqual(d.job("manual", V)["interval_seconds"], 7200.0)
        runs_at_rejection = d.job("ticker", V)["runs"]
        wait_for(lambda: d.job("ticker", V)["runs"] >= runs_at_rejection + 1, 10,
                 "ticker to keep running after the rejected reload")
        rejected = d.events(V, type="config.rejected")
        self.assertEqual(len(rejected), 1, rejected)
        self.assertEqual(rejected[0]["severity"], "error")
        metrics_text = d.get("/metrics").text
        self.assertEqual(metric_value(metrics_text, 'megasync_config_reloads_total{outcome="rejected"}'), 1)
        self.assertEqual(metric_value(metrics_text, 'megasync_config_reloads_total{outcome="ok"}'), 1)
        # The tokens of the running configuration still apply.
        self.assertEqual(d.get("/api/v1/status", token=V).status, 200)

        # -- SIGTERM: a clean stop within the grace period -------------------------
        t0 = time.monotonic()
        code = d.stop(timeout=GRACE_SECONDS + 20)
        stop_seconds = time.monotonic() - t0
        self.assertEqual(code, EXIT_OK, d.stderr())
        self.assertLess(stop_seconds, GRACE_SECONDS, d.stderr())
        log = d.stderr()
        self.assertIn("SIGTERM: shutting down", log)
        self.assertIn("stopped", log.splitlines()[-1])
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error:", log)

        # -- what the state file remembers -------------------------------------------
        db = self.state_db(d)
        outcomes = dict(db.execute(
            "SELECT job, COUNT(*) FROM runs WHERE outcome = 'succeeded' GROUP BY job").fetchall())
        self.assertGreaterEqual(outcomes.get("ticker", 0), 5, outcomes)
        self.assertGreaterEqual(outcomes.get("manual", 0), 2, outcomes)  # schedule + api
        self.assertGreaterEqual(outcomes.get("added", 0), 1, outcomes)
        self.assertEqual(db.execute(
            "SELECT COUNT(*) FROM runs WHERE outcome = 'running' OR finished_at IS NULL"
        ).fetchone()[0], 0)
        self.assertEqual(db.execute(
            """SELECT COUNT(*) FROM runs WHERE job = 'manual' AND "trigger" = 'api'
               AND outcome = 'succeeded'""").fetchone()[0], 1)
        audit = db.execute(
            "SELECT actor, action, target, outcome FROM audit ORDER BY id").fetchall()
        self.assertIn((OPERATOR_NAME, "job.trigger", "manual", "ok"), audit)
        self.assertIn((OPERATOR_NAME, "job.trigger", "nosuchjob", "not_found"), audit)
        denials = [row for row in audit if row[0] == VIEWER_NAME]
        self.assertEqual(len(denials), 1, audit)
        self.assertEqual(denials[0][1:3], ("job.trigger", "manual"))
        self.assertTrue(denials[0][3].startswith("denied: "), denials)
        self.assertIn(("unauthenticated", "job.trigger", "manual"), [row[:3] for row in audit])
        reloads = [row for row in audit if row[1] == "config.reload"]
        self.assertEqual(len(reloads), 2, audit)
        self.assertEqual(reloads[0], ("signal", "config.reload", d.config_path, "ok"))
        self.assertEqual(reloads[1][:3], ("signal", "config.reload", d.config_path))
        self.assertTrue(reloads[1][3].startswith("rejected: "), reloads)
        # No token, raw or hashed, ever reaches the audit log.
        for row in audit:
            for value in (VIEWER_TOKEN, OPERATOR_TOKEN, sha256_hex(VIEWER_TOKEN)):
                self.assertNotIn(value, " ".join(str(v) for v in row))
        event_types = {t for (t,) in db.execute("SELECT DISTINCT type FROM events")}
        for expected in ("daemon.started", "sync.started", "sync.completed", "config.reloaded",
                         "config.rejected", "daemon.stopped"):
            self.assertIn(expected, event_types)
        self.assertGreaterEqual(db.execute(
            "SELECT COUNT(*) FROM events WHERE type = 'sync.completed' AND job = 'ticker'"
        ).fetchone()[0], 5)
        self.assertLess(time.monotonic() - started, 90)


if __name__ == "__main__":
    unittest.main()
