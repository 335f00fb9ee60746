// Internal to the config module: the `endpoints` and `jobs` sections, validated
// against the declarations of the schema's endpoint types and job kinds.
//
// Thread-safety: used on the loading thread only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/context.h"

namespace megasync::config::detail {

// Endpoint and job names: letters, digits, '_', '-', '.'; not empty.
bool valid_name(std::string_view name);

// Records every endpoint name in ctx.endpoint_names (so that references can be
// checked before or after the endpoint itself), then validates each endpoint.
std::map<std::string, EndpointConfig> load_endpoints(const YAML::Node& section, Context& ctx);

// Validates each job. `endpoints` supplies the fingerprints of referenced endpoints.
std::vector<JobConfig> load_jobs(const YAML::Node& section,
                                 const std::map<std::string, EndpointConfig>& endpoints,
                                 Context& ctx);

// The generic keys of every job, with the kind's defaults and variables.
std::vector<OptionSpec> generic_job_options(const JobKindSchema& kind);

}  // namespace megasync::config::detail
