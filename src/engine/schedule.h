// When a job's next run is due. Pure logic over points in time that the caller
// supplies, so that it is tested with an injected clock and no sleeps.
//
// Policy: a periodic job is due `interval` after its previous run STARTED (the
// specification's cycles: every 30 s), but never before that run finished — a
// run that overran its interval is followed by the next one at once, without a
// burst of catch-up runs. A trigger (API, CLI, inbound webhook) makes a run due
// now; triggers that arrive while a run is in flight coalesce into one run
// after it. An interval of zero means "only when triggered".
//
// Thread-safety: none; the job runner guards it with its mutex.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/cancel.h"
#include "core/duration.h"

namespace megasync::engine {

class Schedule {
 public:
  explicit Schedule(Duration interval) : interval_(interval) {}

  // The first run is due at `first` (the daemon's start).
  void begin(SteadyTime first) { next_due_ = first; }
  void run_started(SteadyTime at);
  void run_finished(SteadyTime at);
  // A run is wanted now, for `reason` ("api", "cli", "webhook").
  void trigger(std::string reason);

  // When a run is due at `now`, consumes it and returns its trigger ("schedule"
  // or the reason given to trigger()). Otherwise nullopt.
  std::optional<std::string> take_due(SteadyTime now);
  // The next scheduled run, or nullopt when only triggers start runs.
  std::optional<SteadyTime> next_due() const;
  // When the runner should wake up next if nothing else happens.
  SteadyTime wake_at() const { return next_due().value_or(SteadyTime::max()); }
  bool trigger_pending() const { return pending_trigger_.has_value(); }
  Duration interval() const { return interval_; }

 private:
  Duration interval_;
  std::optional<SteadyTime> next_due_;
  std::optional<SteadyTime> last_started_;
  std::optional<std::string> pending_trigger_;
};

}  // namespace megasync::engine
