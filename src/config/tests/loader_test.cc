#include "config/loader.h"

#include <gtest/gtest.h>

#include "config/tests/test_schema.h"

namespace megasync::config {
namespace {

using testing::error_text;
using testing::load_yaml;

constexpr const char* kFull = R"(
state:
  driver: sqlite
  path: data/state.db
  events_retention: 3d
  events_max: 500
  runs_retention: 90d
api:
  enabled: false
  listen: 0.0.0.0:8080
  protect_metrics: yes
  tokens:
    - name: ci
      sha256: ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789
      role: operator
    - name: grafana
      sha256: 0000000000000000000000000000000000000000000000000000000000000000
daemon:
  grace_period: 1m
  monitoring_interval: 20s
  probe_timeout: 2s
  log_level: debug
  log_format: json
endpoints:
  pg:
    type: postgres
    host: db.internal
    port: 6543
    tls:
      enabled: true
  backup:
    type: fs
    path: /backups
  archive:
    type: fs
    path: /archive
    mode: ro
jobs:
  orders:
    kind: database
    description: Orders to the backup
    source: pg
    targets: [backup, archive, backup]
    tables: [orders, customers]
    interval: 5m
    timeout: 2m
    batch_size: 250
    max_bytes: 16MB
    retry:
      max_attempts: 3
      initial_backoff: 500ms
      max_backoff: 10s
      multiplier: 1.5
  files:
    kind: storage
    enabled: false
    from: backup
    to: archive
)";

TEST(LoaderTest, FullConfigLoads) {
  LoadResult result = load_yaml(kFull);
  ASSERT_TRUE(result.ok()) << error_text(result);
  const Config& config = *result.config;
  EXPECT_EQ(config.path, "/srv/megasync/megasync.yaml");
  EXPECT_EQ(config.base_dir, "/srv/megasync");
  EXPECT_EQ(config.resolve_path(config.state.path), "/srv/megasync/data/state.db");

  EXPECT_EQ(config.state.driver, "sqlite");
  EXPECT_EQ(config.state.events_retention, std::chrono::hours(72));
  EXPECT_EQ(config.state.events_max, 500);
  EXPECT_EQ(config.state.runs_retention, std::chrono::hours(24 * 90));

  EXPECT_FALSE(config.api.enabled);
  EXPECT_EQ(config.api.listen, "0.0.0.0:8080");
  EXPECT_TRUE(config.api.protect_metrics);
  ASSERT_EQ(config.api.tokens.size(), 2u);
  EXPECT_EQ(config.api.tokens[0].name, "ci");
  EXPECT_EQ(config.api.tokens[0].sha256,
            "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(config.api.tokens[0].role, Role::kOperator);
  EXPECT_EQ(config.api.tokens[1].role, Role::kViewer);

  EXPECT_EQ(config.daemon.grace_period, std::chrono::minutes(1));
  EXPECT_EQ(config.daemon.monitoring_interval, std::chrono::seconds(20));
  EXPECT_EQ(config.daemon.probe_timeout, std::chrono::seconds(2));
  EXPECT_EQ(config.daemon.log_level, "debug");
  EXPECT_EQ(config.daemon.log_format, "json");

  ASSERT_EQ(config.endpoints.size(), 3u);
  const EndpointConfig& pg = config.endpoints.at("pg");
  EXPECT_EQ(pg.type, "postgres");
  EXPECT_EQ(pg.options.string("host"), "db.internal");
  EXPECT_EQ(pg.options.integer("port"), 6543);
  EXPECT_FALSE(pg.options.has("type"));
  EXPECT_TRUE(pg.options.object("tls").boolean("enabled"));
  EXPECT_FALSE(pg.options.object("tls").has("ca_file"));
  EXPECT_EQ(pg.options.object("pool").integer("size"), 4);  // object default "{}" filled
  EXPECT_EQ(pg.where.line, 26);                             // the mapping starts at its first key
  EXPECT_EQ(config.endpoints.at("archive").options.string("mode"), "ro");
  EXPECT_EQ(config.endpoints.at("backup").options.string("mode"), "rw");

  ASSERT_EQ(config.jobs.size(), 2u);
  const JobConfig& orders = config.jobs[0];
  EXPECT_EQ(orders.name, "orders");
  EXPECT_EQ(orders.kind, "database");
  EXPECT_TRUE(orders.enabled);
  EXPECT_EQ(orders.description, "Orders to the backup");
  EXPECT_EQ(orders.interval, std::chrono::minutes(5));
  EXPECT_EQ(orders.timeout, std::chrono::minutes(2));
  EXPECT_EQ(orders.batch_size, 250);
  EXPECT_EQ(orders.retry.max_attempts, 3);
  EXPECT_EQ(orders.retry.initial, std::chrono::milliseconds(500));
  EXPECT_EQ(orders.retry.max, std::chrono::seconds(10));
  EXPECT_DOUBLE_EQ(orders.retry.multiplier, 1.5);
  EXPECT_EQ(orders.options.string("source"), "pg");
  EXPECT_EQ(orders.options.strings("targets"),
            (std::vector<std::string>{"backup", "archive", "backup"}));
  EXPECT_EQ(orders.options.strings("tables"), (std::vector<std::string>{"orders", "customers"}));
  EXPECT_EQ(orders.options.bytes("max_bytes"), 16'000'000u);
  EXPECT_EQ(orders.options.string("mode"), "incremental");
  EXPECT_FALSE(orders.options.has("interval"));  // generic keys are not the kind's options
  EXPECT_EQ(orders.endpoints, (std::vector<std::string>{"pg", "backup", "archive"}));

  const JobConfig* files = config.find_job("files");
  ASSERT_NE(files, nullptr);
  EXPECT_FALSE(files->enabled);
  EXPECT_EQ(files->interval, std::chrono::minutes(5));
  EXPECT_EQ(files->endpoints, (std::vector<std::string>{"backup", "archive"}));
  EXPECT_EQ(config.find_job("missing"), nullptr);
}

TEST(LoaderTest, DefaultsApplyToAbsentSections) {
  LoadResult result = load_yaml(R"(
endpoints:
  pg: {type: postgres, host: localhost}
  out: {type: fs, path: out}
jobs:
  orders: {kind: database, source: pg, targets: out}
)");
  ASSERT_TRUE(result.ok()) << error_text(result);
  const Config& config = *result.config;
  EXPECT_EQ(config.state.driver, "sqlite");
  EXPECT_EQ(config.state.path, "megasync.db");
  EXPECT_EQ(config.state.events_retention, std::chrono::hours(24 * 7));
  EXPECT_EQ(config.state.events_max, 100000);
  EXPECT_EQ(config.state.runs_retention, std::chrono::hours(24 * 30));
  EXPECT_TRUE(config.api.enabled);
  EXPECT_EQ(config.api.listen, "127.0.0.1:7171");
  EXPECT_FALSE(config.api.protect_metrics);
  EXPECT_TRUE(config.api.tokens.empty());
  EXPECT_EQ(config.daemon.grace_period, std::chrono::seconds(30));
  EXPECT_EQ(config.daemon.monitoring_interval, std::chrono::seconds(10));
  EXPECT_EQ(config.daemon.probe_timeout, std::chrono::seconds(5));
  EXPECT_EQ(config.daemon.log_level, "info");
  EXPECT_EQ(config.daemon.log_format, "text");

  const JobConfig& job = config.jobs.at(0);
  EXPECT_TRUE(job.enabled);
  EXPECT_EQ(job.interval, std::chrono::seconds(60));
  EXPECT_EQ(job.timeout, std::chrono::minutes(10));
  EXPECT_EQ(job.batch_size, 1000);
  EXPECT_EQ(job.retry.max_attempts, 5);
  EXPECT_EQ(job.retry.initial, std::chrono::seconds(1));
  EXPECT_EQ(job.retry.max, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(job.retry.multiplier, 2.0);
  EXPECT_EQ(job.options.strings("targets"), std::vector<std::string>{"out"});  // one = list of one
  EXPECT_EQ(job.options.bytes("max_bytes"), 64u * 1024 * 1024);
  EXPECT_FALSE(job.options.boolean("parallel"));
  EXPECT_FALSE(job.options.has("filter"));  // an object without default stays absent
  EXPECT_FALSE(job.options.has("lag"));
  EXPECT_TRUE(job.options.strings("tables").empty());
  EXPECT_EQ(config.endpoints.at("pg").options.integer("port"), 5432);
}

TEST(LoaderTest, EmptySectionsAndNoJobsAreValid) {
  LoadResult result = load_yaml("state:\napi:\njobs: {}\n");
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_TRUE(result.config->jobs.empty());
}

TEST(LoaderTest, JobsKeepFileOrder) {
  LoadResult result = load_yaml(R"(
endpoints:
  a: {type: fs, path: a}
  b: {type: fs, path: b}
jobs:
  zeta: {kind: storage, from: a, to: b}
  alpha: {kind: storage, from: b, to: a}
)");
  ASSERT_TRUE(result.ok()) << error_text(result);
  ASSERT_EQ(result.config->jobs.size(), 2u);
  EXPECT_EQ(result.config->jobs[0].name, "zeta");
  EXPECT_EQ(result.config->jobs[1].name, "alpha");
}

TEST(LoaderTest, NestedEndpointReferencesAreCollected) {
  LoadResult result = load_yaml(R"(
endpoints:
  pg: {type: postgres, host: h}
  out: {type: fs, path: out}
  relay: {type: fs, path: relay}
jobs:
  orders:
    kind: database
    source: pg
    targets: out
    mappings:
      - {from: a, to: b, via: relay}
      - {from: c, to: d, via: pg}
)");
  ASSERT_TRUE(result.ok()) << error_text(result);
  const JobConfig& job = result.config->jobs.at(0);
  EXPECT_EQ(job.endpoints, (std::vector<std::string>{"pg", "out", "relay"}));
  std::vector<Options> mappings = job.options.objects("mappings");
  ASSERT_EQ(mappings.size(), 2u);
  EXPECT_EQ(mappings[1].string("from"), "c");
  EXPECT_EQ(mappings[1].location("via").key_path, "jobs.orders.mappings[1].via");
  EXPECT_EQ(mappings[1].location("via").line, 13);
}

TEST(LoaderTest, TextWithoutPathResolvesAgainstTheWorkingDirectory) {
  LoadResult result = load_from_string("jobs: {}\n", "", testing::test_schema(), {});
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(result.config->path, "");
  EXPECT_FALSE(result.config->base_dir.empty());
}

TEST(LoaderTest, ResolvePath) {
  Config config;
  config.base_dir = "/etc/megasync";
  EXPECT_EQ(config.resolve_path("state.db"), "/etc/megasync/state.db");
  EXPECT_EQ(config.resolve_path("../data/./state.db"), "/etc/data/state.db");
  EXPECT_EQ(config.resolve_path("/var/lib/x.db"), "/var/lib/x.db");
}

TEST(LoaderTest, RoleNames) {
  EXPECT_EQ(to_string(Role::kViewer), "viewer");
  EXPECT_EQ(to_string(Role::kOperator), "operator");
  EXPECT_EQ(to_string(Role::kAdmin), "admin");
}

TEST(LoaderTest, ConfigErrorFormatLeavesOutUnknownParts) {
  EXPECT_EQ((ConfigError{{"a.yaml", 3, 7, "jobs.x"}, "bad"}).format(), "a.yaml:3:7: jobs.x: bad");
  EXPECT_EQ((ConfigError{{"a.yaml", 0, 0, "jobs.x"}, "bad"}).format(), "a.yaml: jobs.x: bad");
  EXPECT_EQ((ConfigError{{"a.yaml", 3, 0, ""}, "bad"}).format(), "a.yaml:3: bad");
  EXPECT_EQ((ConfigError{{"", 0, 0, ""}, "bad"}).format(), "bad");
}

}  // namespace
}  // namespace megasync::config
