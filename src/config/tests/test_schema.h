// A schema built by hand for the config tests: endpoint types "fs" and "postgres",
// job kinds "database" and "storage".
#pragma once

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/schema.h"

namespace megasync::config::testing {

inline OptionSpec opt(std::string name, OptionType type, std::string default_value = "",
                      bool required = false) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.default_value = std::move(default_value);
  spec.required = required;
  return spec;
}

inline Schema test_schema() {
  Schema schema;

  EndpointTypeSchema fs;
  fs.options = {opt("path", OptionType::kString, "", true), [] {
                  OptionSpec spec = opt("mode", OptionType::kString, "rw");
                  spec.choices = {"ro", "rw"};
                  return spec;
                }()};
  schema.endpoint_types["fs"] = fs;

  EndpointTypeSchema postgres;
  OptionSpec port = opt("port", OptionType::kInt, "5432");
  port.min = 1;
  port.max = 65535;
  OptionSpec dsn = opt("dsn", OptionType::kString);
  dsn.secret = true;
  OptionSpec tls = opt("tls", OptionType::kObject);
  tls.fields = {opt("enabled", OptionType::kBool, "false"), opt("ca_file", OptionType::kString)};
  OptionSpec pool = opt("pool", OptionType::kObject, "{}");
  pool.fields = {opt("size", OptionType::kInt, "4")};
  postgres.options = {opt("host", OptionType::kString, "", true),
                      port,
                      opt("user", OptionType::kString),
                      opt("password", OptionType::kString),
                      dsn,
                      tls,
                      pool};
  schema.endpoint_types["postgres"] = postgres;

  JobKindSchema database;
  database.default_interval = std::chrono::seconds(60);
  database.interval_variable = "SYNC_INTERVAL_DATABASE";
  database.default_batch_size = 1000;
  database.batch_size_variable = "BATCH_SIZE_DATABASE";
  database.default_timeout = std::chrono::minutes(10);
  database.timeout_variable = "TIMEOUT_DATABASE";
  OptionSpec mode = opt("mode", OptionType::kString, "incremental");
  mode.choices = {"full", "incremental"};
  OptionSpec workers = opt("workers", OptionType::kInt);
  workers.min = 1;
  workers.max = 16;
  OptionSpec mappings = opt("mappings", OptionType::kObjectList);
  mappings.fields = {opt("from", OptionType::kString, "", true),
                     opt("to", OptionType::kString, "", true), opt("via", OptionType::kEndpoint)};
  OptionSpec filter = opt("filter", OptionType::kObject);
  filter.fields = {opt("column", OptionType::kString, "", true),
                   opt("since", OptionType::kDuration, "1h")};
  database.options = {opt("source", OptionType::kEndpoint, "", true),
                      opt("targets", OptionType::kEndpointList, "", true),
                      opt("tables", OptionType::kStringList),
                      mode,
                      opt("max_bytes", OptionType::kBytes, "64MiB"),
                      opt("lag", OptionType::kDuration),
                      opt("parallel", OptionType::kBool, "false"),
                      workers,
                      mappings,
                      filter,
                      opt("extra", OptionType::kAny)};
  schema.job_kinds["database"] = database;

  JobKindSchema storage;
  storage.default_interval = std::chrono::minutes(5);
  storage.interval_variable = "SYNC_INTERVAL_STORAGE";
  storage.options = {opt("from", OptionType::kEndpoint, "", true),
                     opt("to", OptionType::kEndpoint, "", true)};
  schema.job_kinds["storage"] = storage;
  return schema;
}

inline constexpr const char* kTestPath = "/srv/megasync/megasync.yaml";

inline LoadResult load_yaml(const std::string& text, const Environment& env = {}) {
  static const Schema schema = test_schema();
  return load_from_string(text, kTestPath, schema, env);
}

// Every error, formatted, one per line.
inline std::string error_text(const LoadResult& result) {
  std::string out;
  for (const ConfigError& error : result.errors) {
    out += error.format() + "\n";
  }
  return out;
}

}  // namespace megasync::config::testing
