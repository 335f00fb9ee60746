// The connector registry: every endpoint type and job kind megasync knows, by
// name, with its declared options. Registration is explicit — each connector
// has a `register_<name>(Registry&)` called from one list (register_all.cc) —
// so there are no static initialisers and a duplicate name is caught at start.
//
// Created once at startup, filled, then read-only (safe to read from any thread).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "config/schema.h"
#include "core/error.h"
#include "engine/endpoint.h"
#include "engine/job.h"

namespace megasync::engine {

// What a job factory gets besides its own config: the endpoints it refers to.
struct BuildContext {
  std::shared_ptr<const config::Config> config;                // kept alive while the job lives
  std::map<std::string, std::shared_ptr<Endpoint>> endpoints;  // by name, the job's only
};

using EndpointFactory = std::function<Result<std::shared_ptr<Endpoint>>(
    const config::EndpointConfig&, const config::Config&)>;
using JobFactory =
    std::function<Result<std::unique_ptr<Job>>(const config::JobConfig&, const BuildContext&)>;

struct EndpointType {
  std::string name;
  config::EndpointTypeSchema schema;
  EndpointFactory create;
};

struct JobKind {
  std::string name;
  std::string engine;  // "records", "objects", "schema", "builtin"
  config::JobKindSchema schema;
  JobFactory create;
};

class Registry {
 public:
  // Aborts on a duplicate name: that is a startup bug, not an input error.
  void add_endpoint_type(EndpointType type);
  void add_job_kind(JobKind kind);

  const EndpointType* endpoint_type(const std::string& name) const;
  const JobKind* job_kind(const std::string& name) const;
  const std::map<std::string, EndpointType>& endpoint_types() const { return endpoint_types_; }
  const std::map<std::string, JobKind>& job_kinds() const { return job_kinds_; }

  // The declarations the config loader validates against.
  config::Schema schema() const;

 private:
  std::map<std::string, EndpointType> endpoint_types_;
  std::map<std::string, JobKind> job_kinds_;
};

// Registers everything built in: the list of connectors and job kinds.
void register_all(Registry& registry);

}  // namespace megasync::engine
