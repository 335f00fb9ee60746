// Declared options: every option of an endpoint type or a job kind is declared
// once, with its type, default and description (in the manner of Fluent Bit's
// config_map). The loader validates a YAML mapping against its declarations —
// unknown keys are errors with a "did you mean" suggestion — and fills in
// defaults. The same declarations generate the configuration reference.
//
// Thread-safety: declarations are immutable values; Options is read-only after
// loading and may be read from any thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/duration.h"

namespace megasync::config {

enum class OptionType {
  kString,
  kInt,
  kBool,
  kDuration,      // "30s", "5m"; a bare number is seconds
  kBytes,         // "64MiB", "1024"
  kStringList,    // a sequence of strings, or one string taken as a list of one
  kEndpoint,      // the name of an endpoint declared under `endpoints`
  kEndpointList,  // a sequence of endpoint names, or one name
  kObject,        // a mapping validated against `fields`
  kObjectList,    // a sequence of mappings, each validated against `fields`
  kAny,           // not validated here; the component validates it
};

struct OptionSpec {
  std::string name;
  OptionType type = OptionType::kString;
  std::string description;
  std::string default_value;  // as it would be written in YAML; empty: no default
  bool required = false;
  bool secret = false;               // its value is registered with redact()
  std::vector<std::string> choices;  // allowed values for kString; empty: any
  std::vector<OptionSpec> fields;    // for kObject / kObjectList
  std::int64_t min = INT64_MIN;      // for kInt
  std::int64_t max = INT64_MAX;      // for kInt
};

// Where a value was written, for error messages.
struct Location {
  std::string file;
  int line = 0;          // 1-based; 0 when unknown
  int column = 0;        // 1-based
  std::string key_path;  // "jobs.orders.interval"
};

// Validated option values of one mapping, defaults applied. Getters assume the
// loader validated the mapping against the same declarations: asking for an
// undeclared option or with the wrong type is a programming error (asserts).
class Options {
 public:
  Options() = default;
  Options(YAML::Node values, Location where)
      : values_(std::move(values)), where_(std::move(where)) {}

  bool has(const std::string& name) const;  // set in the file or by a default
  std::string string(const std::string& name) const;
  std::int64_t integer(const std::string& name) const;
  bool boolean(const std::string& name) const;
  Duration duration(const std::string& name) const;
  std::uint64_t bytes(const std::string& name) const;
  std::vector<std::string> strings(const std::string& name) const;  // kStringList, kEndpointList
  Options object(const std::string& name) const;
  std::vector<Options> objects(const std::string& name) const;
  YAML::Node node(const std::string& name) const;  // kAny and anything else, raw (interpolated)

  // The location of an option (or of the mapping itself when `name` is empty),
  // for errors a component reports after loading.
  Location location(const std::string& name = "") const;
  const YAML::Node& values() const { return values_; }

 private:
  YAML::Node values_;  // interpolated, defaults applied
  Location where_;
};

}  // namespace megasync::config
