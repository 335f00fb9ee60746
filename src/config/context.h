// Internal to the config module: the state shared by the loader's passes — where
// errors go, the file name for locations, the environment and the schema.
//
// Created by the loader for one load() call and used on that thread only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/schema.h"

namespace megasync::config::detail {

struct Context {
  Context(std::string file_name, const Schema& s, const Environment& e)
      : file(std::move(file_name)), schema(s), env(e) {}

  std::string file;  // as given by the caller, for messages
  const Schema& schema;
  const Environment& env;
  std::vector<ConfigError> errors;
  std::set<std::string> endpoint_names;  // every name under `endpoints`, valid or not
  // Scalars whose interpolation failed (by the address of their text): already
  // reported, so validation skips them instead of piling a second error on top.
  std::set<const std::string*> poisoned;
  // Every rejected value, reported or poisoned: a pass compares it before and after
  // to know whether its values are safe to read with the Options getters.
  std::size_t failures = 0;
  // Environment variables already reported as invalid: one message per variable,
  // however many jobs it applies to.
  std::set<std::string> bad_variables;

  // Where `node` was written (1-based), or the file alone when it has no mark
  // (defaults and values taken from the environment).
  Location at(const YAML::Node& node, std::string key_path) const;
  void error(Location where, std::string message);
  void error(const YAML::Node& node, std::string key_path, std::string message) {
    error(at(node, std::move(key_path)), std::move(message));
  }
  // True (and counted as a failure) when `node` failed interpolation.
  bool is_poisoned(const YAML::Node& node) {
    const bool hit = node.IsScalar() && poisoned.count(&node.Scalar()) > 0;
    failures += hit ? 1 : 0;
    return hit;
  }
};

// The value of `key` in `map`, or an undefined node. Unlike yaml-cpp's operator[],
// never inserts the key and never returns an invalid node (whose Type() throws).
YAML::Node get(const YAML::Node& map, const std::string& key);

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string join_path(std::string_view parent, std::string_view key);

// How a value may appear in a message: quoted, or "the value of 'key'" when it is
// (or contains) a secret.
std::string quote_value(std::string_view value, std::string_view key, bool secret = false);

// "a mapping", "a list", "a string", "nothing": for "expected X, got Y".
std::string_view describe_kind(const YAML::Node& node);

// A copy of `node` without source marks, so that Options::location() falls back to
// the enclosing mapping for values that were not written in the file.
YAML::Node strip_marks(const YAML::Node& node);

}  // namespace megasync::config::detail
