// The loaded configuration of the daemon: what `megasync.yaml` (plus `.env`
// and the environment) says, validated and with defaults applied.
//
// Created by config::load() (loader.h); immutable afterwards and shared by
// pointer (std::shared_ptr<const Config>) so that a reload swaps it whole.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/options.h"
#include "core/duration.h"
#include "core/retry.h"

namespace megasync::config {

enum class Role { kViewer = 1, kOperator = 2, kAdmin = 3 };

struct ApiToken {
  std::string name;    // who, as written to the audit log
  std::string sha256;  // lowercase hex SHA-256 of the bearer token
  Role role = Role::kViewer;
};

struct ApiConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:7171";  // host:port; port 0 picks a free one
  bool protect_metrics = false;           // when true, /metrics needs a viewer token
  std::vector<ApiToken> tokens;
};

struct StateConfig {
  std::string driver = "sqlite";
  std::string path = "megasync.db";  // relative paths are relative to the config file
  Duration events_retention = std::chrono::hours(24 * 7);
  std::int64_t events_max = 100'000;
  Duration runs_retention = std::chrono::hours(24 * 30);
};

struct DaemonConfig {
  Duration grace_period = std::chrono::seconds(30);
  Duration monitoring_interval = std::chrono::seconds(10);  // MONITORING_INTERVAL
  Duration probe_timeout = std::chrono::seconds(5);
  std::string log_level = "info";   // LOG_LEVEL
  std::string log_format = "text";  // text | json
};

struct EndpointConfig {
  std::string name;
  std::string type;         // the connector: sqlite, fs, postgres, ...
  Options options;          // validated against the connector's declarations
  std::string fingerprint;  // changes iff the endpoint's configuration changed
  Location where;
};

struct JobConfig {
  std::string name;
  std::string kind;  // database, storage, ..., command
  bool enabled = true;
  std::string description;
  Duration interval{0};  // between run starts; 0: only when triggered (API, CLI)
  Duration timeout{0};   // a run's deadline
  std::int64_t batch_size = 0;
  BackoffPolicy retry;
  Options options;                     // the kind's own options, validated against its declarations
  std::vector<std::string> endpoints;  // every endpoint the job refers to
  // Changes iff the job's configuration, or that of an endpoint it uses, changed.
  std::string fingerprint;
  Location where;
};

struct Config {
  std::string path;      // the file it was loaded from (absolute)
  std::string base_dir;  // its directory; relative paths in the config resolve here
  StateConfig state;
  ApiConfig api;
  DaemonConfig daemon;
  std::map<std::string, EndpointConfig> endpoints;
  std::vector<JobConfig> jobs;  // in file order

  const JobConfig* find_job(const std::string& name) const;
  // Resolves a path from the config against base_dir.
  std::string resolve_path(const std::string& path) const;
};

std::string_view to_string(Role role);

}  // namespace megasync::config
