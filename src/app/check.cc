// `megasync check`, `megasync jobs` and `megasync version`.
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/common.h"
#include "core/version.h"
#include "engine/build.h"

namespace megasync::app {

int command_check(const GlobalOptions& global, const std::string& config_path) {
  std::shared_ptr<const config::Config> config = load_config(config_path);
  if (!config) {
    return kExitInvalid;
  }
  if (!setup_logging_for(global, config.get())) {
    return kExitInvalid;
  }
  // The factories check what only they know (an option's meaning, not its type).
  auto endpoints = engine::build_endpoints(*config, registry());
  if (!endpoints) {
    fmt::print(stderr, "{}: {}\n", config->path, endpoints.error().message());
    return kExitInvalid;
  }
  const std::vector<std::string> errors = engine::validate_jobs(config, registry(), *endpoints);
  for (const std::string& error : errors) {
    fmt::print(stderr, "{}\n", error);
  }
  if (!errors.empty()) {
    fmt::print(stderr, "{}: {} error(s)\n", config->path, errors.size());
    return kExitInvalid;
  }
  fmt::print("{}: valid ({} job(s), {} endpoint(s))\n", config->path, config->jobs.size(),
             config->endpoints.size());
  return kExitOk;
}

int command_jobs(const GlobalOptions& global, const std::string& config_path, bool json) {
  std::shared_ptr<const config::Config> config = load_config(config_path);
  if (!config || !setup_logging_for(global, config.get())) {
    return kExitInvalid;
  }
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const config::JobConfig& job : config->jobs) {
      list.push_back({{"name", job.name},
                      {"kind", job.kind},
                      {"enabled", job.enabled},
                      {"interval", format_duration(job.interval)},
                      {"timeout", format_duration(job.timeout)},
                      {"endpoints", job.endpoints}});
    }
    fmt::print("{}\n", list.dump(2));
    return kExitOk;
  }
  fmt::print("{:<24} {:<10} {:<8} {:<9} {:<9} {}\n", "JOB", "KIND", "ENABLED", "INTERVAL",
             "TIMEOUT", "ENDPOINTS");
  for (const config::JobConfig& job : config->jobs) {
    fmt::print("{:<24} {:<10} {:<8} {:<9} {:<9} {}\n", job.name, job.kind,
               job.enabled ? "yes" : "no", format_duration(job.interval),
               format_duration(job.timeout), fmt::join(job.endpoints, ","));
  }
  return kExitOk;
}

int command_version() {
  fmt::print("megasync {} (commit {})\n", kVersion, kCommit);
  return kExitOk;
}

}  // namespace megasync::app
