"""SIGTERM with a run in flight: the daemon drains it within the grace period,
and cancels it when the grace period is over."""

import signal
import time
import unittest

from megasync_harness import DaemonTestCase, EXIT_OK, processes_in_session, wait_for


def config(port: int, *, grace: str, command: str, extra: str = "") -> str:
    return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
daemon:
  grace_period: {grace}
jobs:
  slow:
    kind: command
    interval: 1h
    retry:
      max_attempts: 1
    command: {command}
{extra}"""


# The run at start-up (every schedule begins with one) is instant; once the
# `go` file exists, a run takes 3 s and then leaves a mark.
SLOW_WHEN_GO = ("[sh, -c, 'if [ -f go ]; then sleep 3; echo \"$MEGASYNC_TRIGGER\" >> done.txt; "
                "fi']")


class ShutdownTest(DaemonTestCase):

    def test_sigterm_waits_for_the_run_in_flight(self):
        d = self.start_daemon(lambda port: config(port, grace="10s", command=SLOW_WHEN_GO))
        wait_for(lambda: d.job("slow")["runs"] == 1, 10, "the start-up run of slow")
        open(d.path("go"), "w").close()
        accepted = d.post("/api/v1/jobs/slow/run")  # no tokens on loopback: open
        self.assertEqual(accepted.status, 202, accepted)
        current = wait_for(lambda: d.job("slow").get("current_run"), 5, "slow to be running")
        self.assertEqual(current["trigger"], "api")
        self.assertEqual(d.job("slow")["state"], "running")

        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        # Draining: no longer ready, while the run finishes.
        draining = wait_for(lambda: (lambda r: r if r.status == 503 else None)(d.get("/readyz")),
                            2, "/readyz to report draining")
        self.assertIn("[-]draining failed", draining.text)
        code = d.stop(timeout=20)
        took = time.monotonic() - t0
        self.assertEqual(code, EXIT_OK, d.stderr())
        self.assertGreater(took, 1.0, "the daemon did not wait for the run")
        self.assertLess(took, 10.0, d.stderr())
        with open(d.path("done.txt")) as f:
            self.assertEqual(f.read(), "api\n")  # the run completed
        log = d.stderr()
        self.assertNotIn("grace period over", log)
        self.assertNotIn("abandoned", log)

        db = self.state_db(d)
        rows = db.execute('SELECT "trigger", outcome, finished_at IS NOT NULL FROM runs '
                          "WHERE job = 'slow' ORDER BY id").fetchall()
        self.assertEqual(rows, [("schedule", "succeeded", 1), ("api", "succeeded", 1)])
        events = [t for (t,) in db.execute("SELECT type FROM events ORDER BY id")]
        self.assertEqual(events[-1], "daemon.stopped")
        self.assertEqual(events.count("sync.completed"), 2)

    def test_sigterm_cancels_the_run_after_the_grace_period(self):
        d = self.start_daemon(lambda port: config(
            port, grace="1s", command="[sleep, '30']",
            extra="  quick:\n    kind: command\n    interval: 1h\n    command: [sh, -c, 'true']\n"))
        wait_for(lambda: d.job("slow")["state"] == "running", 10, "slow's run to be in flight")
        wait_for(lambda: d.job("quick")["last_run"], 10, "quick's run")
        self.assertTrue([p for p in processes_in_session(d.proc.pid) if p[1] == ["sleep", "30"]])

        t0 = time.monotonic()
        code = d.stop(timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(code, EXIT_OK, d.stderr())
        # 1 s of grace, then cancellation (the command is sent SIGTERM and stops at
        # once; an unresponsive run would be abandoned within 5 s more).
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 7.0, d.stderr())
        self.assertIn("grace period over, cancelling the run in flight", d.stderr())
        # The command did not outlive the daemon.
        wait_for(lambda: not [p for p in processes_in_session(d.proc.pid)
                              if p[1] == ["sleep", "30"]], 3, "the job's command to be gone")

        db = self.state_db(d)
        rows = db.execute("SELECT outcome, error, finished_at FROM runs WHERE job = 'slow'"
                          ).fetchall()
        self.assertEqual(len(rows), 1, rows)
        outcome, error, finished_at = rows[0]
        self.assertIn(outcome, ("cancelled", "timed_out", "failed"), rows)
        self.assertIsNotNone(finished_at)
        self.assertTrue(error, rows)
        self.assertEqual(db.execute(
            "SELECT COUNT(*) FROM runs WHERE outcome = 'running'").fetchone()[0], 0)
        self.assertEqual(db.execute(
            "SELECT outcome FROM runs WHERE job = 'quick'").fetchall(), [("succeeded",)])

    def test_restart_after_sigkill_closes_the_interrupted_run(self):
        # Not a clean stop: the run in flight stays 'running' in the file until the
        # next start records it as interrupted.
        d = self.start_daemon(lambda port: config(port, grace="1s", command="[sleep, '30']"))
        wait_for(lambda: d.job("slow")["state"] == "running", 10, "slow's run to be in flight")
        d.kill()
        db = self.state_db(d)
        self.assertEqual(db.execute("SELECT outcome FROM runs").fetchall(), [("running",)])
        db.close()

        d.start()
        wait_for(lambda: d.job("slow")["state"] == "running", 10, "slow's new run")
        runs = sorted(d.runs("slow"), key=lambda r: r["id"])
        self.assertEqual(runs[0]["outcome"], "failed", runs)
        self.assertIn("interrupted", runs[0]["error"])
        self.assertIsNotNone(runs[0]["finished_at"])
        self.assertIn("interrupted by the previous stop", d.stderr())
        self.assertEqual(d.stop(timeout=30), EXIT_OK, d.stderr())


if __name__ == "__main__":
    unittest.main()
