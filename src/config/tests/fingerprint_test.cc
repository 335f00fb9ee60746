#include "config/fingerprint.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/tests/test_schema.h"

namespace megasync::config {
namespace {

using testing::error_text;
using testing::load_yaml;

constexpr const char* kConfig = R"(endpoints:
  pg: {type: postgres, host: db, port: 5432}
  a: {type: fs, path: /a}
  b: {type: fs, path: /b}
jobs:
  orders:
    kind: database
    source: pg
    targets: [a]
  files:
    kind: storage
    from: a
    to: b
)";

std::shared_ptr<const Config> must_load(const std::string& text, const Environment& env = {}) {
  LoadResult result = load_yaml(text, env);
  EXPECT_TRUE(result.ok()) << error_text(result);
  return result.config;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(FingerprintTest, CanonicalSortsKeysAndIsLayoutFree) {
  EXPECT_EQ(detail::canonical(YAML::Load("{b: 1, a: [x, 'y']}")),
            detail::canonical(YAML::Load("a:\n  - x\n  - y\nb: '1'\n")));
  EXPECT_NE(detail::canonical(YAML::Load("{a: '1,b'}")),
            detail::canonical(YAML::Load("{a: '1', b: ''}")));
  EXPECT_EQ(detail::fingerprint_of("abc").size(), 16u);
}

TEST(FingerprintTest, StableAcrossLoads) {
  auto first = must_load(kConfig);
  auto second = must_load(kConfig);
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(first->jobs[0].fingerprint.empty());
  EXPECT_EQ(first->jobs[0].fingerprint, second->jobs[0].fingerprint);
  EXPECT_EQ(first->jobs[1].fingerprint, second->jobs[1].fingerprint);
  EXPECT_EQ(first->endpoints.at("pg").fingerprint, second->endpoints.at("pg").fingerprint);
  EXPECT_NE(first->jobs[0].fingerprint, first->jobs[1].fingerprint);
  EXPECT_NE(first->endpoints.at("a").fingerprint, first->endpoints.at("b").fingerprint);
}

TEST(FingerprintTest, KeyOrderAndDefaultsWrittenOutDoNotMatter) {
  auto first = must_load(kConfig);
  auto second = must_load(
      replaced(kConfig, "{type: postgres, host: db, port: 5432}", "{host: db, type: postgres}"));
  EXPECT_EQ(first->endpoints.at("pg").fingerprint, second->endpoints.at("pg").fingerprint);
  EXPECT_EQ(first->jobs[0].fingerprint, second->jobs[0].fingerprint);
}

TEST(FingerprintTest, UnrelatedChangesLeaveAJobAlone) {
  auto first = must_load(kConfig);
  auto second = must_load(replaced(kConfig, "to: b", "to: a"));
  EXPECT_EQ(first->jobs[0].fingerprint, second->jobs[0].fingerprint);  // orders unchanged
  EXPECT_NE(first->jobs[1].fingerprint, second->jobs[1].fingerprint);  // files changed
  // b is used by no job any more but its own fingerprint is unchanged.
  EXPECT_EQ(first->endpoints.at("b").fingerprint, second->endpoints.at("b").fingerprint);
}

TEST(FingerprintTest, EndpointChangeChangesJobsUsingIt) {
  auto first = must_load(kConfig);
  auto second = must_load(replaced(kConfig, "host: db", "host: db2"));
  EXPECT_NE(first->endpoints.at("pg").fingerprint, second->endpoints.at("pg").fingerprint);
  EXPECT_NE(first->jobs[0].fingerprint, second->jobs[0].fingerprint);  // orders uses pg
  EXPECT_EQ(first->jobs[1].fingerprint, second->jobs[1].fingerprint);  // files does not
}

TEST(FingerprintTest, EnvironmentDefaultsCount) {
  auto first = must_load(kConfig);
  auto second = must_load(kConfig, {{"SYNC_INTERVAL_DATABASE", "5"}});
  EXPECT_NE(first->jobs[0].fingerprint, second->jobs[0].fingerprint);
  EXPECT_EQ(first->jobs[1].fingerprint, second->jobs[1].fingerprint);
}

TEST(FingerprintTest, DoesNotContainSecrets) {
  auto config = must_load(replaced(kConfig, "port: 5432", "password: sup3r-s3cret"));
  EXPECT_EQ(config->endpoints.at("pg").fingerprint.find("sup3r"), std::string::npos);
  EXPECT_EQ(config->jobs[0].fingerprint.find("sup3r"), std::string::npos);
}

}  // namespace
}  // namespace megasync::config
