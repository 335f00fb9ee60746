// Turning a loaded configuration into live objects: endpoints through their
// connectors' factories, and the BuildContext a job factory receives.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "core/error.h"
#include "engine/registry.h"

namespace megasync::engine {

using EndpointMap = std::map<std::string, std::shared_ptr<Endpoint>>;

// Builds the endpoints of `config`. When `previous` is given (a reload), an
// endpoint whose configuration did not change is reused as it is, so the jobs
// and connections using it are undisturbed. Fails on the first endpoint whose
// factory fails, naming it. `only`, when not empty, limits the build to those names.
Result<EndpointMap> build_endpoints(const config::Config& config, const Registry& registry,
                                    const config::Config* previous_config = nullptr,
                                    const EndpointMap* previous = nullptr,
                                    const std::vector<std::string>& only = {});

// The context for building `job`: the config and the endpoints it refers to.
BuildContext build_context(const config::JobConfig& job,
                           std::shared_ptr<const config::Config> config,
                           const EndpointMap& endpoints);

// Builds every enabled job of `config` once and discards it, so that errors only
// a job's factory can see (an option's meaning, a missing capability) are found
// before anything runs. Returns one message per failing job, prefixed with its
// location ("file:line:col: jobs.NAME: ..."). Factories do not connect to
// anything, so this is cheap and does not depend on the endpoints being up.
std::vector<std::string> validate_jobs(const std::shared_ptr<const config::Config>& config,
                                       const Registry& registry, const EndpointMap& endpoints);

}  // namespace megasync::engine
