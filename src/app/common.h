// What the subcommands share: loading the configuration with every error
// printed, and setting up logging from the config and the command line.
#pragma once

#include <memory>
#include <string>

#include "app/commands.h"
#include "config/config.h"
#include "engine/registry.h"

namespace megasync::app {

// The registry with every built-in connector and job kind.
const engine::Registry& registry();

// Loads `path`; on errors prints each one ("file:line:col: key: message") to
// stderr and returns null.
std::shared_ptr<const config::Config> load_config(const std::string& path);

// The job named `name`; otherwise prints which jobs there are and returns null.
const config::JobConfig* find_job(const config::Config& config, const std::string& name);

// Logging from the command line when given, else from the config (which already
// reflects LOG_LEVEL), else defaults. Returns false after printing an error.
bool setup_logging_for(const GlobalOptions& global, const config::Config* config);

}  // namespace megasync::app
