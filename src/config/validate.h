// Internal to the config module: validation of a YAML mapping against OptionSpec
// declarations (options.h), in place — defaults are written into the mapping so
// that Options getters find them.
//
// Thread-safety: used on the loading thread only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/context.h"
#include "config/options.h"

namespace megasync::config::detail {

struct Scope {
  std::string path;   // key path of the mapping: "jobs.orders"
  std::string owner;  // how messages name the mapping: "job 'orders'"
  Location where;     // where the mapping is, for "missing required key"
  // Options whose default an environment variable overrides: option -> variable.
  std::map<std::string, std::string> env_defaults;
  // Keys the caller handles itself ("type", "kind"): not reported as unknown.
  std::vector<std::string> extra_keys;
  bool report_unknown = true;                         // false when the declarations are unknown
  std::vector<std::string>* endpoint_refs = nullptr;  // collects kEndpoint references
};

// Validates `map` (a mapping, or null meaning empty) against `specs`: reports
// unknown keys with a suggestion, missing required keys and ill-typed values, and
// fills in defaults (the variable named in scope.env_defaults, when set, before
// the declared default). Returns the mapping; a null `map` is replaced by a new one.
YAML::Node validate_mapping(YAML::Node map, const std::vector<OptionSpec>& specs,
                            const Scope& scope, Context& ctx);

// Validates one value from the environment against `spec`; reports errors naming
// `variable`. Returns the value as a node (without a source mark) when valid.
std::optional<YAML::Node> validate_env_value(const std::string& variable, const std::string& text,
                                             const OptionSpec& spec, const std::string& path,
                                             Context& ctx);

// Strict decimal integer ("+5", "-3", "100"); nullopt otherwise.
std::optional<std::int64_t> parse_int(const std::string& text);

}  // namespace megasync::config::detail
