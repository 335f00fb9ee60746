#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/tests/test_schema.h"

namespace megasync::config {
namespace {

using testing::error_text;
using ::testing::HasSubstr;
using testing::load_yaml;

constexpr const char* kJobs = R"(endpoints:
  pg: {type: postgres, host: db}
  a: {type: fs, path: a}
jobs:
  defaults:
    kind: database
    source: pg
    targets: a
  explicit:
    kind: database
    source: pg
    targets: a
    interval: 15s
    timeout: 1m
    batch_size: 10
  files:
    kind: storage
    from: a
    to: a
)";

TEST(PrecedenceTest, BuiltInDefaultsWithoutVariables) {
  LoadResult result = load_yaml(kJobs);
  ASSERT_TRUE(result.ok()) << error_text(result);
  const JobConfig* job = result.config->find_job("defaults");
  EXPECT_EQ(job->interval, std::chrono::seconds(60));
  EXPECT_EQ(job->timeout, std::chrono::minutes(10));
  EXPECT_EQ(job->batch_size, 1000);
  const JobConfig* files = result.config->find_job("files");
  EXPECT_EQ(files->interval, std::chrono::minutes(5));
  EXPECT_EQ(files->batch_size, 0);  // the kind has no batch size
}

TEST(PrecedenceTest, VariablesOverrideKindDefaults) {
  LoadResult result = load_yaml(kJobs, {{"SYNC_INTERVAL_DATABASE", "45"},
                                        {"TIMEOUT_DATABASE", "2m"},
                                        {"BATCH_SIZE_DATABASE", "77"},
                                        {"SYNC_INTERVAL_STORAGE", "1h"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  const JobConfig* job = result.config->find_job("defaults");
  EXPECT_EQ(job->interval, std::chrono::seconds(45));  // a bare number is seconds
  EXPECT_EQ(job->timeout, std::chrono::minutes(2));
  EXPECT_EQ(job->batch_size, 77);
  EXPECT_EQ(result.config->find_job("files")->interval, std::chrono::hours(1));
}

TEST(PrecedenceTest, FileBeatsVariables) {
  LoadResult result = load_yaml(kJobs, {{"SYNC_INTERVAL_DATABASE", "45"},
                                        {"TIMEOUT_DATABASE", "2m"},
                                        {"BATCH_SIZE_DATABASE", "77"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  const JobConfig* job = result.config->find_job("explicit");
  EXPECT_EQ(job->interval, std::chrono::seconds(15));
  EXPECT_EQ(job->timeout, std::chrono::minutes(1));
  EXPECT_EQ(job->batch_size, 10);
}

TEST(PrecedenceTest, EmptyVariableCountsAsUnset) {
  LoadResult result = load_yaml(kJobs, {{"SYNC_INTERVAL_DATABASE", ""}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(result.config->find_job("defaults")->interval, std::chrono::seconds(60));
}

TEST(PrecedenceTest, InvalidVariableIsOneErrorNamingIt) {
  // Two database jobs use the default, but the variable is reported once.
  std::string text = kJobs;
  text += "  more:\n    kind: database\n    source: pg\n    targets: a\n";
  LoadResult result = load_yaml(text, {{"SYNC_INTERVAL_DATABASE", "often"}});
  ASSERT_EQ(result.errors.size(), 1u) << error_text(result);
  const ConfigError& error = result.errors[0];
  EXPECT_EQ(error.where.line, 0);
  EXPECT_EQ(error.format(),
            "/srv/megasync/megasync.yaml: jobs.defaults.interval: environment variable "
            "SYNC_INTERVAL_DATABASE: expected a duration such as 30s, 5m or 1h, got 'often'");
}

TEST(PrecedenceTest, InvalidBatchSizeVariable) {
  LoadResult result = load_yaml(kJobs, {{"BATCH_SIZE_DATABASE", "0"}});
  ASSERT_EQ(result.errors.size(), 1u) << error_text(result);
  EXPECT_THAT(
      result.errors[0].message,
      HasSubstr("environment variable BATCH_SIZE_DATABASE: 'batch_size' must be at least 1"));
}

TEST(PrecedenceTest, DaemonVariables) {
  LoadResult result =
      load_yaml("daemon: {}\n", {{"MONITORING_INTERVAL", "90"}, {"LOG_LEVEL", "debug"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(result.config->daemon.monitoring_interval, std::chrono::seconds(90));
  EXPECT_EQ(result.config->daemon.log_level, "debug");

  // Also when the section is absent.
  result = load_yaml("jobs: {}\n", {{"MONITORING_INTERVAL", "1m"}, {"LOG_LEVEL", "warn"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(result.config->daemon.monitoring_interval, std::chrono::minutes(1));
  EXPECT_EQ(result.config->daemon.log_level, "warn");

  // Upper case, as other tools sharing the variable often write it.
  result = load_yaml("jobs: {}\n", {{"LOG_LEVEL", "DEBUG"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(result.config->daemon.log_level, "debug");
}

TEST(PrecedenceTest, FileBeatsDaemonVariables) {
  LoadResult result = load_yaml("daemon:\n  monitoring_interval: 3s\n  log_level: error\n",
                                {{"MONITORING_INTERVAL", "90"}, {"LOG_LEVEL", "debug"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(result.config->daemon.monitoring_interval, std::chrono::seconds(3));
  EXPECT_EQ(result.config->daemon.log_level, "error");
}

TEST(PrecedenceTest, InvalidDaemonVariables) {
  LoadResult result =
      load_yaml("jobs: {}\n", {{"MONITORING_INTERVAL", "sometimes"}, {"LOG_LEVEL", "verbose"}});
  ASSERT_EQ(result.errors.size(), 2u) << error_text(result);
  EXPECT_THAT(result.errors[0].format(),
              HasSubstr("daemon.monitoring_interval: environment variable MONITORING_INTERVAL: "
                        "expected a duration"));
  EXPECT_THAT(result.errors[1].format(),
              HasSubstr("daemon.log_level: environment variable LOG_LEVEL: 'log_level' must be "
                        "one of: trace, debug, info, warn, error, critical, off; got 'verbose'"));
}

TEST(PrecedenceTest, InvalidVariableIgnoredWhenTheFileSetsTheValue) {
  LoadResult result = load_yaml("daemon:\n  log_level: info\n", {{"LOG_LEVEL", "verbose"}});
  EXPECT_TRUE(result.ok()) << error_text(result);
}

}  // namespace
}  // namespace megasync::config
