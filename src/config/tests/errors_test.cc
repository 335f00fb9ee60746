#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/tests/test_schema.h"

namespace megasync::config {
namespace {

using testing::error_text;
using ::testing::HasSubstr;
using testing::load_yaml;

// Endpoints and a valid job that tests extend by appending keys to the job.
constexpr const char* kBase = R"(endpoints:
  pg: {type: postgres, host: db}
  backup: {type: fs, path: /b}
jobs:
  orders:
    kind: database
    source: pg
    targets: [backup]
)";

LoadResult load_job_with(const std::string& extra_lines) {
  return load_yaml(kBase + extra_lines);
}

// The only error of `result`, failing the test when there is not exactly one.
ConfigError single_error(const LoadResult& result) {
  EXPECT_EQ(result.errors.size(), 1u) << error_text(result);
  EXPECT_EQ(result.config, nullptr);
  return result.errors.empty() ? ConfigError{} : result.errors.front();
}

TEST(ConfigErrorsTest, UnknownTopLevelKeySuggests) {
  ConfigError error = single_error(load_yaml("jobz: {}\n"));
  EXPECT_EQ(error.format(),
            "/srv/megasync/megasync.yaml:1:1: jobz: unknown top-level key 'jobz'; did you mean "
            "'jobs'?; the sections are: state, api, daemon, endpoints, jobs");
}

TEST(ConfigErrorsTest, UnknownTopLevelKeyWithoutSuggestion) {
  ConfigError error = single_error(load_yaml("something_else: 1\n"));
  EXPECT_THAT(error.message, HasSubstr("unknown top-level key 'something_else'"));
  EXPECT_THAT(error.message, ::testing::Not(HasSubstr("did you mean")));
}

TEST(ConfigErrorsTest, EmptyFile) {
  ConfigError error = single_error(load_yaml("# nothing here\n"));
  EXPECT_THAT(error.message, HasSubstr("the configuration is empty"));
  EXPECT_EQ(error.where.line, 0);
}

TEST(ConfigErrorsTest, RootNotAMapping) {
  ConfigError error = single_error(load_yaml("- a\n- b\n"));
  EXPECT_THAT(error.message, HasSubstr("the top level must be a mapping"));
  EXPECT_THAT(error.message, HasSubstr("got a list"));
}

TEST(ConfigErrorsTest, SectionNotAMapping) {
  ConfigError error = single_error(load_yaml("api: [1, 2]\n"));
  EXPECT_EQ(error.format(),
            "/srv/megasync/megasync.yaml:1:6: api: section 'api' must be a mapping, got a list");
}

TEST(ConfigErrorsTest, UnknownJobKeySuggests) {
  ConfigError error = single_error(load_job_with("    intervall: 5m\n"));
  EXPECT_EQ(error.where.line, 9);
  EXPECT_EQ(error.where.column, 5);
  EXPECT_EQ(error.where.key_path, "jobs.orders.intervall");
  EXPECT_EQ(error.message, "unknown key 'intervall' in job 'orders'; did you mean 'interval'?");
}

TEST(ConfigErrorsTest, UnknownJobKeySuggestsKindOptions) {
  ConfigError error = single_error(load_job_with("    tabels: [a]\n"));
  EXPECT_THAT(error.message, HasSubstr("did you mean 'tables'?"));
}

TEST(ConfigErrorsTest, UnknownKeyWithoutSuggestionListsKnownKeys) {
  ConfigError error = single_error(load_yaml("state:\n  colour: blue\n"));
  EXPECT_THAT(error.message, HasSubstr("unknown key 'colour' in section 'state'; known keys: "
                                       "driver, path, events_retention"));
}

TEST(ConfigErrorsTest, UnknownEndpointKey) {
  ConfigError error = single_error(load_yaml("endpoints:\n  b: {type: fs, path: /b, mod: ro}\n"));
  EXPECT_EQ(error.message, "unknown key 'mod' in endpoint 'b'; did you mean 'mode'?");
}

TEST(ConfigErrorsTest, UnknownEndpointType) {
  ConfigError error = single_error(load_yaml("endpoints:\n  pg:\n    type: postgress\n"));
  EXPECT_EQ(error.format(),
            "/srv/megasync/megasync.yaml:3:11: endpoints.pg.type: unknown endpoint type "
            "'postgress' for endpoint 'pg'; did you mean 'postgres'?; known types: fs, postgres");
}

TEST(ConfigErrorsTest, EndpointWithoutType) {
  ConfigError error = single_error(load_yaml("endpoints:\n  pg:\n    host: x\n"));
  EXPECT_EQ(error.where.line, 3);
  EXPECT_EQ(error.message,
            "missing required key 'type' in endpoint 'pg'; set it to one of: fs, postgres");
}

TEST(ConfigErrorsTest, InvalidEndpointName) {
  ConfigError error = single_error(load_yaml("endpoints:\n  'my pg': {type: fs, path: x}\n"));
  EXPECT_THAT(error.message, HasSubstr("invalid endpoint name 'my pg'"));
}

TEST(ConfigErrorsTest, EndpointNotAMapping) {
  ConfigError error = single_error(load_yaml("endpoints:\n  pg: postgres\n"));
  EXPECT_THAT(error.message, HasSubstr("endpoint 'pg' must be a mapping"));
}

TEST(ConfigErrorsTest, UnknownKind) {
  ConfigError error = single_error(load_yaml("jobs:\n  orders:\n    kind: databse\n"));
  EXPECT_EQ(error.where.key_path, "jobs.orders.kind");
  EXPECT_EQ(error.message,
            "unknown job kind 'databse' for job 'orders'; did you mean 'database'?; known kinds: "
            "database, storage");
}

TEST(ConfigErrorsTest, MissingKind) {
  ConfigError error = single_error(load_yaml("jobs:\n  orders:\n    enabled: true\n"));
  EXPECT_THAT(error.message, HasSubstr("missing required key 'kind' in job 'orders'"));
}

TEST(ConfigErrorsTest, UnknownKindStillChecksGenericKeys) {
  LoadResult result = load_yaml("jobs:\n  orders:\n    kind: nope\n    interval: soon\n");
  ASSERT_EQ(result.errors.size(), 2u) << error_text(result);
  EXPECT_THAT(result.errors[1].message, HasSubstr("expected a duration"));
}

TEST(ConfigErrorsTest, UnknownEndpointReference) {
  LoadResult result =
      load_yaml(std::string(kBase) + "    mappings:\n      - {from: a, to: b, via: bakup}\n");
  ConfigError error = single_error(result);
  EXPECT_EQ(error.where.key_path, "jobs.orders.mappings[0].via");
  EXPECT_EQ(error.where.line, 10);
  EXPECT_EQ(error.message,
            "'via' must name an endpoint declared under 'endpoints', got 'bakup'; did you mean "
            "'backup'?");
}

TEST(ConfigErrorsTest, UnknownEndpointInList) {
  std::string text = kBase;
  text.replace(text.find("[backup]"), 8, "[backup, nowhere]");
  ConfigError error = single_error(load_yaml(text));
  EXPECT_EQ(error.where.key_path, "jobs.orders.targets[1]");
  EXPECT_THAT(error.message,
              HasSubstr("must name an endpoint declared under 'endpoints', got 'nowhere'"));
}

TEST(ConfigErrorsTest, MissingRequiredAtParent) {
  ConfigError error = single_error(load_yaml(R"(endpoints:
  pg: {type: postgres, host: db}
jobs:
  orders:
    kind: database
    source: pg
)"));
  EXPECT_EQ(error.format(),
            "/srv/megasync/megasync.yaml:5:5: jobs.orders: missing required key 'targets' in job "
            "'orders'");
}

TEST(ConfigErrorsTest, RequiredKeyWithoutValue) {
  ConfigError error = single_error(load_yaml("endpoints:\n  b:\n    type: fs\n    path:\n"));
  EXPECT_THAT(error.message, HasSubstr("'path' in endpoint 'b' is required but has no value"));
}

TEST(ConfigErrorsTest, MissingRequiredInNestedObject) {
  ConfigError error = single_error(load_job_with("    filter: {since: 2h}\n"));
  EXPECT_EQ(error.where.key_path, "jobs.orders.filter");
  EXPECT_EQ(error.message, "missing required key 'column' in 'jobs.orders.filter'");
}

TEST(ConfigErrorsTest, WrongTypes) {
  struct Case {
    std::string line;
    std::string key_path;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"    mode: fast", "jobs.orders.mode",
       "'mode' must be one of: full, incremental; got 'fast'"},
      {"    mode: ful", "jobs.orders.mode",
       "'mode' must be one of: full, incremental; got 'ful'; did you mean 'full'?"},
      {"    description: [a]", "jobs.orders.description", "expected a single value, got a list"},
      {"    workers: many", "jobs.orders.workers", "expected a whole number, got 'many'"},
      {"    workers: 1.5", "jobs.orders.workers", "expected a whole number, got '1.5'"},
      {"    workers: 0", "jobs.orders.workers", "'workers' must be at least 1, got '0'"},
      {"    workers: 17", "jobs.orders.workers", "'workers' must be at most 16, got '17'"},
      {"    parallel: maybe", "jobs.orders.parallel", "expected true or false, got 'maybe'"},
      {"    lag: abc", "jobs.orders.lag", "expected a duration such as 30s, 5m or 1h, got 'abc'"},
      {"    max_bytes: lots", "jobs.orders.max_bytes",
       "expected a size such as 64MiB, 16MB or 1024, got 'lots'"},
      {"    tables: {a: b}", "jobs.orders.tables", "expected a list, got a mapping"},
      {"    tables: [a, [b]]", "jobs.orders.tables[1]",
       "expected a list of names, but this item is a list"},
      {"    lag: [1s]", "jobs.orders.lag", "expected a single value, got a list"},
      {"    mappings: [{from: a, to: b, via: [pg]}]", "jobs.orders.mappings[0].via",
       "expected a single value, got a list"},
      {"    filter: [a]", "jobs.orders.filter",
       "expected a mapping of keys (filter.<key>: value), got a list"},
      {"    mappings: {from: a}", "jobs.orders.mappings",
       "expected a list of mappings, got a mapping"},
      {"    mappings: [a]", "jobs.orders.mappings[0]", "expected a mapping, got a single value"},
      {"    interval: 5 minutes", "jobs.orders.interval",
       "expected a duration such as 30s, 5m or 1h, got '5 minutes'"},
      {"    batch_size: 0", "jobs.orders.batch_size", "'batch_size' must be at least 1, got '0'"},
      {"    enabled: sometimes", "jobs.orders.enabled", "expected true or false, got 'sometimes'"},
      {"    retry: {max_attempts: 0}", "jobs.orders.retry.max_attempts",
       "'max_attempts' must be at least 1, got '0'"},
      {"    retry: {multiplier: fast}", "jobs.orders.retry.multiplier",
       "expected a number of at least 1 (each wait is the previous one times it), got 'fast'"},
      {"    retry: {initial_backoff: 1m, max_backoff: 1s}", "jobs.orders.retry.max_backoff",
       "'max_backoff' must not be shorter than 'initial_backoff'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    ConfigError error = single_error(load_job_with(c.line + "\n"));
    EXPECT_EQ(error.where.key_path, c.key_path);
    EXPECT_EQ(error.message, c.message);
    EXPECT_EQ(error.where.line, 9);
  }
}

TEST(ConfigErrorsTest, KObjectListItemsAreValidatedRecursively) {
  LoadResult result = load_job_with(R"(    mappings:
      - from: a
        to: b
      - from: c
        too: d
      - to: e
)");
  ASSERT_EQ(result.errors.size(), 3u) << error_text(result);
  // Sorted by position: "missing 'to'" is reported where mappings[1] begins.
  EXPECT_EQ(result.errors[0].format(),
            "/srv/megasync/megasync.yaml:12:9: jobs.orders.mappings[1]: missing required key "
            "'to' in 'jobs.orders.mappings[1]'");
  EXPECT_EQ(result.errors[1].format(),
            "/srv/megasync/megasync.yaml:13:9: jobs.orders.mappings[1].too: unknown key 'too' in "
            "'jobs.orders.mappings[1]'; did you mean 'to'?");
  EXPECT_EQ(result.errors[2].format(),
            "/srv/megasync/megasync.yaml:14:9: jobs.orders.mappings[2]: missing required key "
            "'from' in 'jobs.orders.mappings[2]'");
}

TEST(ConfigErrorsTest, BadStateValues) {
  LoadResult result =
      load_yaml("state:\n  driver: postgres\n  events_max: 0\n  runs_retention: forever\n");
  ASSERT_EQ(result.errors.size(), 3u) << error_text(result);
  EXPECT_THAT(result.errors[0].message,
              HasSubstr("'driver' must be one of: sqlite; got 'postgres'"));
  EXPECT_THAT(result.errors[1].message, HasSubstr("'events_max' must be at least 1"));
  EXPECT_THAT(result.errors[2].message, HasSubstr("expected a duration"));
}

TEST(ConfigErrorsTest, BadListen) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"localhost", "there is no port"},
      {"localhost:http", "the port must be a number from 0 to 65535"},
      {"localhost:65536", "the port must be a number from 0 to 65535"},
      {"localhost:-1", "the port must be a number from 0 to 65535"},
      {":7171", "the host is missing"},
      {"::1:7171", "an IPv6 host goes in brackets"},
  };
  for (const auto& [listen, message] : cases) {
    SCOPED_TRACE(listen);
    ConfigError error = single_error(load_yaml("api:\n  listen: '" + listen + "'\n"));
    EXPECT_EQ(error.where.key_path, "api.listen");
    EXPECT_EQ(error.where.line, 2);
    EXPECT_THAT(error.message, HasSubstr(message));
  }
  for (const char* listen : {"127.0.0.1:0", "[::1]:7171", "example.org:65535"}) {
    LoadResult result = load_yaml(std::string("api:\n  listen: '") + listen + "'\n");
    EXPECT_TRUE(result.ok()) << error_text(result);
  }
}

TEST(ConfigErrorsTest, BadTokens) {
  LoadResult result = load_yaml(R"(api:
  tokens:
    - name: a
      sha256: 1234
    - name: a
      sha256: zz00000000000000000000000000000000000000000000000000000000000000
      role: root
    - sha256: 0000000000000000000000000000000000000000000000000000000000000000
)");
  ASSERT_EQ(result.errors.size(), 5u) << error_text(result);
  EXPECT_EQ(result.errors[0].where.key_path, "api.tokens[0].sha256");
  EXPECT_THAT(result.errors[0].message, HasSubstr("64 hexadecimal characters"));
  EXPECT_THAT(result.errors[0].message, HasSubstr("got 4 characters"));
  EXPECT_THAT(result.errors[1].message, HasSubstr("token name 'a' is used twice"));
  EXPECT_THAT(result.errors[2].message, HasSubstr("not all hexadecimal"));
  EXPECT_THAT(result.errors[3].message,
              HasSubstr("'role' must be one of: viewer, operator, admin; got 'root'"));
  EXPECT_THAT(result.errors[4].message, HasSubstr("missing required key 'name'"));
  EXPECT_EQ(result.errors[4].where.key_path, "api.tokens[2]");
}

TEST(ConfigErrorsTest, BadDaemonValues) {
  LoadResult result = load_yaml("daemon:\n  log_level: verbose\n  log_format: xml\n");
  ASSERT_EQ(result.errors.size(), 2u) << error_text(result);
  EXPECT_THAT(result.errors[0].message, HasSubstr("'log_level' must be one of: trace, debug"));
  EXPECT_THAT(result.errors[1].message, HasSubstr("must be one of: text, json; got 'xml'"));
}

TEST(ConfigErrorsTest, DuplicateKey) {
  LoadResult result =
      load_yaml("daemon:\n  log_level: debug\n  probe_timeout: 1s\n  log_level: warn\n");
  ConfigError error = single_error(result);
  EXPECT_EQ(error.format(),
            "/srv/megasync/megasync.yaml:4:3: daemon.log_level: duplicate key 'log_level' (first "
            "at line 2); remove one of them");
}

TEST(ConfigErrorsTest, DuplicateJob) {
  ConfigError error =
      single_error(load_yaml(std::string(kBase) + "  orders:\n    kind: storage\n"));
  EXPECT_THAT(error.message, HasSubstr("duplicate key 'orders' (first at line 5)"));
}

TEST(ConfigErrorsTest, YamlSyntaxErrorHasLocation) {
  ConfigError error = single_error(load_yaml("jobs:\n  orders:\n    tables: [a, b\n    kind: x\n"));
  EXPECT_GT(error.where.line, 0);
  EXPECT_GT(error.where.column, 0);
  EXPECT_THAT(error.message, HasSubstr("invalid YAML"));
  EXPECT_THAT(error.format(), ::testing::StartsWith("/srv/megasync/megasync.yaml:"));
}

TEST(ConfigErrorsTest, YamlSyntaxErrorExactPosition) {
  ConfigError error = single_error(load_yaml("api:\n  listen: [a\n"));
  // yaml-cpp reports the end of the unclosed flow sequence; 0-based (2, 0) -> 1-based 3:1.
  EXPECT_EQ(error.where.line, 3);
  EXPECT_EQ(error.where.column, 1);
}

TEST(ConfigErrorsTest, ThreeMistakesReportedTogether) {
  LoadResult result = load_yaml(R"(state:
  events_max: 0
endpoints:
  pg: {type: postgres, host: db}
jobs:
  orders:
    kind: database
    source: pg
    targets: pg
    intervall: 5m
apii:
  enabled: true
)");
  ASSERT_EQ(result.errors.size(), 3u) << error_text(result);
  EXPECT_EQ(result.errors[0].format(),
            "/srv/megasync/megasync.yaml:2:15: state.events_max: 'events_max' must be at least 1, "
            "got '0'");
  EXPECT_EQ(result.errors[1].format(),
            "/srv/megasync/megasync.yaml:10:5: jobs.orders.intervall: unknown key 'intervall' in "
            "job 'orders'; did you mean 'interval'?");
  EXPECT_EQ(result.errors[2].format(),
            "/srv/megasync/megasync.yaml:11:1: apii: unknown top-level key 'apii'; did you mean "
            "'api'?; the sections are: state, api, daemon, endpoints, jobs");
}

TEST(ConfigErrorsTest, NullTopLevelKeyAndNonScalarKey) {
  LoadResult result = load_yaml("? [a, b]\n: 1\njobs: {}\n");
  ASSERT_EQ(result.errors.size(), 1u) << error_text(result);
  EXPECT_THAT(result.errors[0].message, HasSubstr("a key must be a plain name"));
}

}  // namespace
}  // namespace megasync::config
