// Internal to the config module: passes over the whole parsed document that run
// before validation — duplicate-key detection and `${VAR}` interpolation.
//
// Thread-safety: used on the loading thread only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/context.h"
#include "config/loader.h"

namespace megasync::config::detail {

struct Interpolated {
  std::string value;
  std::vector<std::string> errors;  // one message per problem; never quotes a value
};

// Expands `${VAR}`, `${VAR:-default}` (the default also replaces an empty value, as
// in the shell) and `$$` (a literal `$`). Any other `$` is kept as written. The
// value substituted for a variable whose name looks secret is registered with
// register_secret().
Interpolated interpolate(std::string_view text, const Environment& env);

// Reports "duplicate key" for every mapping in `node` that repeats a key
// (yaml-cpp keeps both entries; lookups see the first).
void check_duplicate_keys(const YAML::Node& node, const std::string& path, Context& ctx);

// Interpolates every scalar in place and registers the values of secret-named keys.
// A scalar that fails is left as written, reported, and marked poisoned in `ctx`.
void interpolate_tree(YAML::Node node, const std::string& path, Context& ctx);

}  // namespace megasync::config::detail
