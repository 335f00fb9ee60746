#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "config/loader.h"
#include "config/tests/test_schema.h"

namespace megasync::config {
namespace {

using testing::error_text;
using ::testing::HasSubstr;

TEST(DotenvTest, ParsesAllForms) {
  auto env = parse_dotenv(R"(# a comment

PLAIN=value
SPACED =   padded value   
TRAILING=abc # a comment
HASH=a#b
EXPORTED_PREFIX=1
export EXPORTED=yes
SINGLE='literal $X \n # not a comment'
DOUBLE="line1\nline2 \"quoted\" back\\slash # kept"
EMPTY=
EMPTY_QUOTED=""
COMMENT_ONLY= # nothing
WINDOWS=crlf
)",
                          ".env");
  ASSERT_TRUE(env) << env.error().message();
  EXPECT_EQ(env->at("PLAIN"), "value");
  EXPECT_EQ(env->at("SPACED"), "padded value");
  EXPECT_EQ(env->at("TRAILING"), "abc");
  EXPECT_EQ(env->at("HASH"), "a#b");
  EXPECT_EQ(env->at("EXPORTED"), "yes");
  EXPECT_EQ(env->at("SINGLE"), "literal $X \\n # not a comment");
  EXPECT_EQ(env->at("DOUBLE"), "line1\nline2 \"quoted\" back\\slash # kept");
  EXPECT_EQ(env->at("EMPTY"), "");
  EXPECT_EQ(env->at("EMPTY_QUOTED"), "");
  EXPECT_EQ(env->at("COMMENT_ONLY"), "");
  EXPECT_EQ(env->count("export EXPORTED"), 0u);
}

TEST(DotenvTest, CrLfLineEndings) {
  auto env = parse_dotenv("A=1\r\nB='2'\r\n", ".env");
  ASSERT_TRUE(env) << env.error().message();
  EXPECT_EQ(env->at("A"), "1");
  EXPECT_EQ(env->at("B"), "2");
}

TEST(DotenvTest, LaterLinesWin) {
  auto env = parse_dotenv("A=1\nA=2\n", ".env");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->at("A"), "2");
}

TEST(DotenvTest, BadLinesNameTheLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"A=1\nnot a pair\n", "/etc/.env:2: expected KEY=VALUE"},
      {"\n\n1A=x\n", "/etc/.env:3: invalid variable name"},
      {"A='open\n", "/etc/.env:1: unterminated single quote in the value of A"},
      {"A=\"open\n", "/etc/.env:1: unterminated double quote in the value of A"},
      {"A='x' y\n", "/etc/.env:1: unexpected text after the closing quote"},
      {"=x\n", "/etc/.env:1: invalid variable name"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    auto env = parse_dotenv(text, "/etc/.env");
    ASSERT_FALSE(env);
    EXPECT_EQ(env.error().code(), ErrorCode::kInvalidConfig);
    EXPECT_THAT(env.error().message(), HasSubstr(message));
  }
}

TEST(DotenvTest, BadLineDoesNotQuoteItsValue) {
  auto env = parse_dotenv("DB_PASSWORD='hunter2-secret\n", ".env");
  ASSERT_FALSE(env);
  EXPECT_THAT(env.error().message(), ::testing::Not(HasSubstr("hunter2")));
}

TEST(DotenvTest, ProcessEnvironmentIsRead) {
  ::setenv("MEGASYNC_CONFIG_TEST_VAR", "a=b", 1);
  Environment env = process_environment();
  ::unsetenv("MEGASYNC_CONFIG_TEST_VAR");
  EXPECT_EQ(env.at("MEGASYNC_CONFIG_TEST_VAR"), "a=b");
}

// A temporary directory with a config file and optionally a .env, removed afterwards.
class DotenvFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "megasync-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::string config_path() const { return (dir_ / "megasync.yaml").string(); }

  std::filesystem::path dir_;
  Schema schema_ = testing::test_schema();
};

TEST_F(DotenvFileTest, DotenvBesideTheConfigIsRead) {
  write(".env", "PG_HOST=from-dotenv\nPG_PORT=7000\n");
  write("megasync.yaml",
        "endpoints:\n  pg: {type: postgres, host: '${PG_HOST}', port: '${PG_PORT}'}\n");
  LoadResult result = load_with_env(config_path(), schema_, {{"PG_PORT", "8000"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  const Options& pg = result.config->endpoints.at("pg").options;
  EXPECT_EQ(pg.string("host"), "from-dotenv");
  EXPECT_EQ(pg.integer("port"), 8000);  // the environment beats .env
  EXPECT_EQ(result.config->path, config_path());
  EXPECT_EQ(result.config->base_dir, dir_.string());
}

TEST_F(DotenvFileTest, LoadUsesTheProcessEnvironmentOverDotenv) {
  write(".env", "MEGASYNC_TEST_HOST=from-dotenv\nMEGASYNC_TEST_USER=dotenv-user\n");
  write("megasync.yaml",
        "endpoints:\n  pg: {type: postgres, host: '${MEGASYNC_TEST_HOST}', user: "
        "'${MEGASYNC_TEST_USER}'}\n");
  ::setenv("MEGASYNC_TEST_HOST", "from-process", 1);
  LoadResult result = load(config_path(), schema_);
  ::unsetenv("MEGASYNC_TEST_HOST");
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(result.config->endpoints.at("pg").options.string("host"), "from-process");
  EXPECT_EQ(result.config->endpoints.at("pg").options.string("user"), "dotenv-user");
}

TEST_F(DotenvFileTest, BadDotenvLineIsReportedWithFileErrors) {
  write(".env", "GOOD=1\nthis is wrong\n");
  write("megasync.yaml", "jobz: {}\n");
  LoadResult result = load_with_env(config_path(), schema_, {});
  ASSERT_EQ(result.errors.size(), 2u) << error_text(result);
  EXPECT_EQ(result.errors[0].format(),
            (dir_ / ".env").string() + ":2: expected KEY=VALUE (or a '#' comment)");
  EXPECT_EQ(result.errors[1].where.file, config_path());
}

TEST_F(DotenvFileTest, LoadFromStringIgnoresDotenv) {
  write(".env", "PG_HOST=from-dotenv\n");
  LoadResult result = load_from_string("endpoints:\n  pg: {type: postgres, host: '${PG_HOST}'}\n",
                                       config_path(), schema_, {});
  ASSERT_EQ(result.errors.size(), 1u) << error_text(result);
  EXPECT_THAT(result.errors[0].message, HasSubstr("variable PG_HOST is not set"));
}

TEST_F(DotenvFileTest, MissingConfigFile) {
  LoadResult result = load_with_env(config_path(), schema_, {});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0].format(), HasSubstr("cannot read the configuration file"));
  EXPECT_EQ(result.config, nullptr);
}

}  // namespace
}  // namespace megasync::config
