// `megasync sync JOB`: one run of one job in the foreground, with a progress line.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

#include "app/common.h"
#include "core/time.h"
#include "engine/build.h"
#include "engine/job_runner.h"
#include "events/bus.h"
#include "state/sqlite_store.h"

namespace megasync::app {
namespace {

std::string human_bytes(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} {}", bytes, kUnits[unit])
                   : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

}  // namespace

int command_sync(const GlobalOptions& global, const std::string& config_path,
                 const std::string& job_name, bool dry_run) {
  std::shared_ptr<const config::Config> config = load_config(config_path);
  if (!config || !setup_logging_for(global, config.get())) {
    return kExitInvalid;
  }
  const config::JobConfig* job = find_job(*config, job_name);
  if (job == nullptr) {
    return kExitInvalid;
  }
  auto store = state::open_sqlite_store(config->resolve_path(config->state.path));
  if (!store) {
    fmt::print(stderr, "megasync: state store: {}\n", store.error().message());
    return kExitStartFailed;
  }
  auto endpoints = engine::build_endpoints(*config, registry(), nullptr, nullptr, job->endpoints);
  if (!endpoints) {
    fmt::print(stderr, "megasync: {}\n", endpoints.error().message());
    return kExitInvalid;
  }
  monitor::MetricsRegistry metrics;
  engine::JobMetrics job_metrics(metrics);
  events::Bus bus(store->get());
  engine::RunnerServices services;
  services.store = store->get();
  services.events = &bus;
  services.metrics = &metrics;
  services.job_metrics = &job_metrics;
  const engine::JobKind* kind = registry().job_kind(job->kind);
  engine::JobRunner runner(*job, *kind, engine::build_context(*job, config, *endpoints), services);

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const SteadyTime started = SteadyClock::now();
  auto on_progress = [&](const engine::RunProgress::Snapshot& p) {
    const double rate = p.records_per_second();
    std::string line = fmt::format("{}: {} records, {}, {:.0f} records/s", job_name, p.records,
                                   human_bytes(static_cast<double>(p.bytes)), rate);
    if (p.records_total > 0 && p.eta_seconds() >= 0) {
      line += fmt::format(", {:.0f}%, ETA {:.0f} s",
                          std::min(100.0, 100.0 * static_cast<double>(p.records) /
                                              static_cast<double>(p.records_total)),
                          p.eta_seconds());
    }
    if (!p.phase.empty()) {
      line += " (" + p.phase + ")";
    }
    if (tty) {
      fmt::print(stderr, "\r{:<100}", line);
    } else {
      fmt::print(stderr, "{}\n", line);
    }
  };
  engine::RunSummary summary = runner.run_now("cli", dry_run, on_progress);
  if (tty) {
    fmt::print(stderr, "\n");
  }
  const state::RunRecord& run = summary.record;
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  if (run.outcome == state::Outcome::kSucceeded) {
    fmt::print("{}: succeeded in {:.2f} s: {} records, {}{}\n", job_name, seconds, run.records,
               human_bytes(static_cast<double>(run.bytes)), dry_run ? " (dry run)" : "");
    return kExitOk;
  }
  fmt::print(stderr, "{}: {} after {} attempt(s): {}\n", job_name, state::to_string(run.outcome),
             run.attempts, run.error);
  if (summary.abandoned) {
    std::fflush(nullptr);
    ::_exit(kExitFailed);  // the abandoned run's thread may still use what we would destroy
  }
  return kExitFailed;
}

}  // namespace megasync::app
