#include "engine/build.h"

#include <algorithm>

namespace megasync::engine {

Result<EndpointMap> build_endpoints(const config::Config& config, const Registry& registry,
                                    const config::Config* previous_config,
                                    const EndpointMap* previous,
                                    const std::vector<std::string>& only) {
  EndpointMap endpoints;
  for (const auto& [name, endpoint] : config.endpoints) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) {
      continue;
    }
    if (previous_config != nullptr && previous != nullptr) {
      auto old_config = previous_config->endpoints.find(name);
      auto old = previous->find(name);
      if (old_config != previous_config->endpoints.end() && old != previous->end() &&
          old_config->second.fingerprint == endpoint.fingerprint) {
        endpoints.emplace(name, old->second);
        continue;
      }
    }
    const EndpointType* type = registry.endpoint_type(endpoint.type);
    if (type == nullptr) {
      // The loader validated the type against the same registry.
      return make_error(ErrorCode::kInvalidConfig, "endpoint {}: unknown type '{}'", name,
                        endpoint.type);
    }
    auto built = type->create(endpoint, config);
    if (!built) {
      return tl::unexpected(built.error().with_context(fmt::format("endpoint {}", name)));
    }
    endpoints.emplace(name, std::move(*built));
  }
  return endpoints;
}

BuildContext build_context(const config::JobConfig& job,
                           std::shared_ptr<const config::Config> config,
                           const EndpointMap& endpoints) {
  BuildContext context;
  context.config = std::move(config);
  for (const std::string& name : job.endpoints) {
    auto it = endpoints.find(name);
    if (it != endpoints.end()) {
      context.endpoints.emplace(name, it->second);
    }
  }
  return context;
}

std::vector<std::string> validate_jobs(const std::shared_ptr<const config::Config>& config,
                                       const Registry& registry, const EndpointMap& endpoints) {
  std::vector<std::string> errors;
  for (const config::JobConfig& job : config->jobs) {
    const JobKind* kind = registry.job_kind(job.kind);
    if (kind == nullptr) {
      continue;  // the loader reported it
    }
    auto built = kind->create(job, build_context(job, config, endpoints));
    if (!built) {
      errors.push_back(fmt::format("{}:{}:{}: jobs.{}: {}", job.where.file, job.where.line,
                                   job.where.column, job.name, built.error().message()));
    }
  }
  return errors;
}

}  // namespace megasync::engine
