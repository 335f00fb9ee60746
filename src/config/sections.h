// Internal to the config module: the daemon's own sections — `state`, `api` and
// `daemon` — declared as OptionSpecs and turned into their structs.
//
// Thread-safety: used on the loading thread only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "config/context.h"

namespace megasync::config::detail {

// Each validates `section` (a mapping, or null when the section is absent; the
// mapping is filled with defaults in place) and returns the struct. When the
// section has errors they are reported and the built-in defaults are returned.
StateConfig load_state(YAML::Node section, const Location& where, Context& ctx);
ApiConfig load_api(YAML::Node section, const Location& where, Context& ctx);
DaemonConfig load_daemon(YAML::Node section, const Location& where, Context& ctx);

// Declarations of the sections, for the configuration reference.
const std::vector<OptionSpec>& state_options();
const std::vector<OptionSpec>& api_options();
const std::vector<OptionSpec>& daemon_options();

// Empty when `listen` is a valid "host:port", else what is wrong.
std::string check_listen(const std::string& listen);

}  // namespace megasync::config::detail
