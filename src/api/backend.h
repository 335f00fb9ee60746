// What the HTTP API asks of the daemon. The daemon (engine/daemon.h) implements
// it; tests implement it with fixed answers. Keeping the API behind this
// interface means routes and auth are tested without an orchestrator.
//
// Thread-safety: every method may be called from the HTTP server's threads
// concurrently with the daemon's own work; implementations must be thread-safe
// and cheap (no blocking I/O in live()).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "state/state_store.h"

namespace megasync::api {

struct ReadyCheck {
  std::string name;  // "config", "state"
  bool ok = false;
  std::string detail;  // why not, when not ok
};

class Backend {
 public:
  virtual ~Backend() = default;

  // The process is not wedged. Checks no dependency.
  virtual bool live() = 0;
  // Config loaded, state store writable, not draining.
  virtual std::vector<ReadyCheck> ready() = 0;
  // The whole status document (daemon, jobs, endpoints).
  virtual nlohmann::json status() = 0;
  // Every job's summary, and one job's detail (nullopt: no such job).
  virtual nlohmann::json jobs() = 0;
  virtual std::optional<nlohmann::json> job(const std::string& name) = 0;
  // A job's runs, newest first. kNotFound when there is no such job.
  virtual Result<nlohmann::json> runs(const std::string& name, int limit) = 0;
  virtual Result<nlohmann::json> events(const state::EventQuery& query) = 0;
  // Asks for a run of `name` now. kNotFound: no such job; kPermanent: the job
  // cannot be triggered now (disabled, shutting down). Returns a small document
  // saying the run was queued.
  virtual Result<nlohmann::json> trigger(const std::string& name, const std::string& actor) = 0;
};

}  // namespace megasync::api
