#include "app/common.h"

#include <fmt/format.h>

#include <cstdio>

#include "config/loader.h"
#include "core/logging.h"

namespace megasync::app {

const engine::Registry& registry() {
  static const engine::Registry instance = [] {
    engine::Registry r;
    engine::register_all(r);
    return r;
  }();
  return instance;
}

std::shared_ptr<const config::Config> load_config(const std::string& path) {
  config::LoadResult result = config::load(path, registry().schema());
  if (!result.ok()) {
    for (const config::ConfigError& error : result.errors) {
      fmt::print(stderr, "{}\n", error.format());
    }
    fmt::print(stderr, "{}: {} error(s); nothing was started\n", path, result.errors.size());
    return nullptr;
  }
  return result.config;
}

bool setup_logging_for(const GlobalOptions& global, const config::Config* config) {
  std::string level = global.log_level;
  std::string format = global.log_format;
  if (level.empty()) {
    level = config != nullptr ? config->daemon.log_level : "info";
  }
  if (format.empty()) {
    format = config != nullptr ? config->daemon.log_format : "text";
  }
  Status status = setup_logging(level, format);
  if (!status) {
    fmt::print(stderr, "megasync: {}\n", status.error().message());
    return false;
  }
  return true;
}

const config::JobConfig* find_job(const config::Config& config, const std::string& name) {
  if (const config::JobConfig* job = config.find_job(name); job != nullptr) {
    return job;
  }
  std::string names;
  for (const config::JobConfig& j : config.jobs) {
    names += (names.empty() ? "" : ", ") + j.name;
  }
  fmt::print(stderr, "{}: no job named '{}' (jobs: {})\n", config.path, name,
             names.empty() ? "none" : names);
  return nullptr;
}

}  // namespace megasync::app
