#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/tests/test_schema.h"
#include "config/walk.h"

namespace megasync::config {
namespace {

using detail::interpolate;
using detail::Interpolated;
using testing::error_text;
using ::testing::HasSubstr;
using testing::load_yaml;

TEST(InterpolateTest, Variables) {
  const Environment env = {{"HOST", "db"}, {"PORT", "5432"}, {"EMPTY", ""}};
  EXPECT_EQ(interpolate("${HOST}:${PORT}", env).value, "db:5432");
  EXPECT_EQ(interpolate("plain text", env).value, "plain text");
  EXPECT_EQ(interpolate("", env).value, "");
}

TEST(InterpolateTest, Defaults) {
  const Environment env = {{"HOST", "db"}, {"EMPTY", ""}};
  EXPECT_EQ(interpolate("${HOST:-x}", env).value, "db");
  EXPECT_EQ(interpolate("${MISSING:-fallback}", env).value, "fallback");
  EXPECT_EQ(interpolate("${EMPTY:-fallback}", env).value, "fallback");  // empty uses default
  EXPECT_EQ(interpolate("${MISSING:-}", env).value, "");
  EXPECT_EQ(interpolate("${MISSING:-a:b-c}", env).value, "a:b-c");
  EXPECT_EQ(interpolate("${EMPTY}", env).value, "");  // set but empty, no default
  EXPECT_TRUE(interpolate("${EMPTY}", env).errors.empty());
}

TEST(InterpolateTest, DollarEscapes) {
  const Environment env = {{"X", "1"}};
  EXPECT_EQ(interpolate("cost: $$5", env).value, "cost: $5");
  EXPECT_EQ(interpolate("$${X}", env).value, "${X}");
  EXPECT_EQ(interpolate("$X and $ alone and $", env).value, "$X and $ alone and $");
  EXPECT_EQ(interpolate("$$$${X}", env).value, "$${X}");
}

TEST(InterpolateTest, MissingVariable) {
  Interpolated result = interpolate("${PG_PASSWORD}", {});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0],
            "variable PG_PASSWORD is not set; set it in the environment or in .env beside the "
            "config, or write ${PG_PASSWORD:-default}");
}

TEST(InterpolateTest, Unterminated) {
  Interpolated result = interpolate("abc ${HOST", {{"HOST", "x"}});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0], HasSubstr("unterminated '${'"));
}

TEST(InterpolateTest, InvalidName) {
  Interpolated result = interpolate("${1ABC}", {});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0], HasSubstr("invalid variable reference"));
}

TEST(InterpolateTest, AppliedBeforeValidation) {
  LoadResult result =
      load_yaml(R"(endpoints:
  pg:
    type: ${PG_TYPE:-postgres}
    host: ${PG_HOST}
    port: ${PG_PORT}
    user: "${PG_USER:-app}"
jobs:
  orders:
    kind: database
    source: pg
    targets: ["${TARGET}"]
    interval: ${ORDERS_INTERVAL:-90s}
)",
                {{"PG_HOST", "db.internal"}, {"PG_PORT", "6000"}, {"TARGET", "pg"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  const EndpointConfig& pg = result.config->endpoints.at("pg");
  EXPECT_EQ(pg.type, "postgres");
  EXPECT_EQ(pg.options.string("host"), "db.internal");
  EXPECT_EQ(pg.options.integer("port"), 6000);
  EXPECT_EQ(pg.options.string("user"), "app");
  EXPECT_EQ(pg.options.location("port").line, 5);  // interpolated values keep their position
  EXPECT_EQ(result.config->jobs.at(0).interval, std::chrono::seconds(90));
  EXPECT_EQ(result.config->jobs.at(0).endpoints, std::vector<std::string>{"pg"});
}

TEST(InterpolateTest, MissingVariableIsOneErrorNamingKeyAndVariable) {
  LoadResult result = load_yaml("endpoints:\n  pg:\n    type: postgres\n    host: ${PG_HOST}\n");
  ASSERT_EQ(result.errors.size(), 1u) << error_text(result);  // no follow-on error
  EXPECT_EQ(result.errors[0].format(),
            "/srv/megasync/megasync.yaml:4:11: endpoints.pg.host: variable PG_HOST is not set; set "
            "it in the environment or in .env beside the config, or write ${PG_HOST:-default}");
}

TEST(InterpolateTest, InvalidInterpolatedValueIsReported) {
  LoadResult result = load_yaml("daemon:\n  grace_period: ${GRACE}\n", {{"GRACE", "a while"}});
  ASSERT_EQ(result.errors.size(), 1u) << error_text(result);
  EXPECT_EQ(result.errors[0].message, "expected a duration such as 30s, 5m or 1h, got 'a while'");
}

TEST(InterpolateTest, UnterminatedInFile) {
  LoadResult result = load_yaml("daemon:\n  log_level: ${LEVEL\n");
  ASSERT_EQ(result.errors.size(), 1u) << error_text(result);
  EXPECT_EQ(result.errors[0].where.key_path, "daemon.log_level");
  EXPECT_THAT(result.errors[0].message, HasSubstr("unterminated"));
}

TEST(InterpolateTest, AliasesAreExpandedOnce) {
  LoadResult result = load_yaml(R"(endpoints:
  a: {type: fs, path: &p "$${HOME}/x"}
  b: {type: fs, path: *p}
)",
                                {{"HOME", "/root"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(result.config->endpoints.at("a").options.string("path"), "${HOME}/x");
  EXPECT_EQ(result.config->endpoints.at("b").options.string("path"), "${HOME}/x");
}

TEST(InterpolateTest, KeysAreNotInterpolated) {
  LoadResult result = load_yaml("jobs:\n  ${NAME}: {kind: storage}\n", {{"NAME", "x"}});
  EXPECT_THAT(error_text(result), HasSubstr("invalid job name '${NAME}'"));
}

}  // namespace
}  // namespace megasync::config
