// Loads and validates a configuration file.
//
// Steps: read `.env` beside the file (variables already in the environment win),
// parse YAML, interpolate `${VAR}` / `${VAR:-default}` in every scalar, validate
// every section against the declarations (unknown keys are errors with a "did
// you mean" suggestion; endpoint references must name a declared endpoint),
// apply defaults (built-in, then the specification's environment variables such
// as SYNC_INTERVAL_DATABASE, then the file), and register secrets with redact().
//
// All errors are collected, not only the first.
//
// Thread-safety: load() may run on any thread; it reads the process environment.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/schema.h"
#include "core/error.h"

namespace megasync::config {

struct ConfigError {
  Location where;
  std::string message;  // what is wrong and how to fix it; never contains a secret

  // "file:line:col: key.path: message" (parts that are unknown are left out).
  std::string format() const;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty(); }
};

// Variables the loader sees: the process environment, overlaid on `.env`.
// Tests pass their own map to load_with_env().
using Environment = std::map<std::string, std::string>;
Environment process_environment();

LoadResult load(const std::string& path, const Schema& schema);
LoadResult load_with_env(const std::string& path, const Schema& schema, const Environment& env);
// Parses from text; `path` is used for messages and for resolving relative paths.
LoadResult load_from_string(const std::string& text, const std::string& path, const Schema& schema,
                            const Environment& env);

// Parses a `.env` file: KEY=VALUE lines, `#` comments, optional `export `,
// single or double quotes. Errors name the line.
Result<Environment> parse_dotenv(const std::string& text, const std::string& path);

}  // namespace megasync::config
