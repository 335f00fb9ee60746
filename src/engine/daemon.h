// The daemon: everything `megasync run` keeps alive — the state store, the
// event bus, the metrics, the endpoints, one JobRunner per enabled job, the
// health monitor and the HTTP API — and how they change on reload and stop.
//
// Created by `megasync run` on the main thread, which then waits for signals and
// calls reload() (SIGHUP) or stop() (SIGTERM/SIGINT). Implements api::Backend
// for the HTTP API's threads.
//
// Thread-safety: reload() and stop() are called from one control thread; the
// Backend methods from any thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/backend.h"
#include "api/router.h"
#include "api/server.h"
#include "config/config.h"
#include "engine/build.h"
#include "engine/health_monitor.h"
#include "engine/job_metrics.h"
#include "engine/job_runner.h"
#include "engine/registry.h"
#include "events/bus.h"
#include "monitor/metrics.h"
#include "state/state_store.h"

namespace megasync::engine {

struct DaemonOptions {
  // `megasync run --drop-slots`: what endpoints keep for jobs removed from the
  // configuration (replication slots) is dropped rather than only reported.
  bool drop_slots = false;
};

class Daemon : public api::Backend {
 public:
  Daemon(const Registry& registry, std::shared_ptr<const config::Config> config,
         DaemonOptions options = {});
  ~Daemon() override;

  // Opens the state store, builds endpoints and jobs, starts the health monitor,
  // the API and every job. Fails with a message naming what could not start.
  Status start();
  // Applies a new, already validated configuration. Jobs whose configuration
  // (and endpoints) did not change keep running undisturbed; changed jobs are
  // restarted after their in-flight run; removed jobs stop. On failure nothing
  // changes and the old configuration stays in force.
  Status reload(std::shared_ptr<const config::Config> next);
  // Records a rejected reload (errors already logged) in metrics and events.
  void reload_rejected(const std::string& reason);
  // Graceful stop: no new runs; in-flight runs get the grace period, then are
  // cancelled; state is written. Idempotent.
  void stop();

  // The port the API listens on (0 when disabled or not started).
  int api_port() const { return api_port_; }
  // Runs still holding a thread after being abandoned (the process should exit
  // without waiting for them).
  int abandoned_runs() const;

  // api::Backend
  bool live() override;
  std::vector<api::ReadyCheck> ready() override;
  nlohmann::json status() override;
  nlohmann::json jobs() override;
  std::optional<nlohmann::json> job(const std::string& name) override;
  Result<nlohmann::json> runs(const std::string& name, int limit) override;
  Result<nlohmann::json> events(const state::EventQuery& query) override;
  Result<nlohmann::json> trigger(const std::string& name, const std::string& actor) override;

 private:
  std::map<std::string, std::unique_ptr<JobRunner>> make_runners(
      const std::shared_ptr<const config::Config>& config, const EndpointMap& endpoints);
  RunnerServices services();
  std::string aggregate_health();
  void maintenance_loop();
  // Jobs the state store has checkpoints for that `config` no longer has:
  // what the endpoints still keep for them (Endpoint::retained_for) is
  // reported (source.slot_orphaned), or with drop_slots released
  // (source.slot_dropped) and the job's checkpoints forgotten. Runs on the
  // maintenance thread after start and after each reload.
  void check_retired_jobs(const config::Config& config, const EndpointMap& endpoints);

  const Registry& registry_;
  std::shared_ptr<const config::Config> config_;
  const DaemonOptions options_;
  WallTime started_at_;

  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<monitor::MetricsRegistry> metrics_;
  std::unique_ptr<events::Bus> bus_;
  std::unique_ptr<JobMetrics> job_metrics_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<api::Router> router_;
  std::unique_ptr<api::Server> server_;
  int api_port_ = 0;
  std::shared_ptr<std::atomic<int>> abandoned_ = std::make_shared<std::atomic<int>>(0);

  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  mutable std::mutex mutex_;  // guards config_, endpoints_, runners_
  EndpointMap endpoints_;
  std::map<std::string, std::unique_ptr<JobRunner>> runners_;
  // Bumped when jobs may have been removed (start, and a reload once the
  // removed jobs' runs ended); the maintenance thread then looks for what
  // they left (check_retired_jobs).
  std::uint64_t retired_generation_ = 0;
  std::mutex control_mutex_;  // serialises start/reload/stop

  std::mutex maintenance_mutex_;
  std::condition_variable maintenance_wake_;
  std::thread maintenance_;

  mutable std::mutex ready_mutex_;
  SteadyTime ready_checked_{};
  api::ReadyCheck state_check_;
};

}  // namespace megasync::engine
