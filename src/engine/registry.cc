#include "engine/registry.h"

#include <cstdio>
#include <cstdlib>

namespace megasync::engine {

void Registry::add_endpoint_type(EndpointType type) {
  if (endpoint_types_.count(type.name) != 0) {
    std::fprintf(stderr, "megasync: bug: endpoint type '%s' registered twice\n", type.name.c_str());
    std::abort();
  }
  std::string name = type.name;
  endpoint_types_.emplace(std::move(name), std::move(type));
}

void Registry::add_job_kind(JobKind kind) {
  if (job_kinds_.count(kind.name) != 0) {
    std::fprintf(stderr, "megasync: bug: job kind '%s' registered twice\n", kind.name.c_str());
    std::abort();
  }
  std::string name = kind.name;
  job_kinds_.emplace(std::move(name), std::move(kind));
}

const EndpointType* Registry::endpoint_type(const std::string& name) const {
  auto it = endpoint_types_.find(name);
  return it == endpoint_types_.end() ? nullptr : &it->second;
}

const JobKind* Registry::job_kind(const std::string& name) const {
  auto it = job_kinds_.find(name);
  return it == job_kinds_.end() ? nullptr : &it->second;
}

config::Schema Registry::schema() const {
  config::Schema schema;
  for (const auto& [name, type] : endpoint_types_) {
    schema.endpoint_types.emplace(name, type.schema);
  }
  for (const auto& [name, kind] : job_kinds_) {
    schema.job_kinds.emplace(name, kind.schema);
  }
  return schema;
}

}  // namespace megasync::engine
