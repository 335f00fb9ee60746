// Runs one attempt of a job on a worker thread under a deadline.
//
// The attempt's thread owns shared references to everything it touches (the
// job instance, the progress), so when it overruns its deadline and ignores
// cancellation the caller can abandon it: stop waiting, report the run as timed
// out and carry on, while the thread finishes (or not) on its own. This is what
// keeps one hung job from stopping the others or the daemon's shutdown.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "core/cancel.h"
#include "core/error.h"
#include "engine/job.h"

namespace megasync::engine {

struct AttemptResult {
  Status status;
  bool timed_out = false;  // the deadline passed (the job may or may not have stopped)
  bool abandoned = false;  // the job did not return within the grace after cancellation
};

struct AttemptLimits {
  Deadline deadline = Deadline::never();
  // How long to wait for the job to return after it was told to stop, before
  // abandoning it.
  std::chrono::milliseconds abandon_grace{2000};
  // Cancelled when the daemon stops waiting for runs to finish (end of the
  // shutdown grace period); the attempt is then cancelled like at a deadline.
  CancelToken hard_stop;
};

// Counters of threads still running after abandonment: the job's own and the
// daemon's total (either may be null). Shared, because they outlive the caller.
struct AbandonedCounters {
  std::shared_ptr<std::atomic<int>> job;
  std::shared_ptr<std::atomic<int>> total;
};

// Runs job->run(ctx) on a new thread. `ctx.cancel` is replaced by a token the
// attempt controls. An abandoned thread is counted in `abandoned` until it ends
// (so the daemon can report it, and exit without waiting for it).
AttemptResult run_attempt(std::shared_ptr<Job> job, std::shared_ptr<RunProgress> progress,
                          RunContext ctx, const AttemptLimits& limits, AbandonedCounters abandoned);

}  // namespace megasync::engine
