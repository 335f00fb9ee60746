// What the loader needs to know about connectors and job kinds to validate a
// configuration: the declared options of each endpoint type and job kind, and a
// job kind's defaults. The connector registry (engine/registry.h) provides it;
// tests may build one by hand.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/options.h"
#include "core/duration.h"

namespace megasync::config {

struct EndpointTypeSchema {
  std::string description;
  std::vector<OptionSpec> options;
};

struct JobKindSchema {
  std::string description;
  // Default interval and batch size, and the variables that override them
  // (SYNC_INTERVAL_DATABASE, BATCH_SIZE_DATABASE, TIMEOUT_DATABASE).
  Duration default_interval{0};
  std::string interval_variable;
  std::int64_t default_batch_size = 0;
  std::string batch_size_variable;
  Duration default_timeout = std::chrono::minutes(10);
  std::string timeout_variable;
  std::vector<OptionSpec> options;
};

struct Schema {
  std::map<std::string, EndpointTypeSchema> endpoint_types;
  std::map<std::string, JobKindSchema> job_kinds;
};

}  // namespace megasync::config
