#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/tests/test_schema.h"
#include "core/redact.h"

namespace megasync::config {
namespace {

using testing::error_text;
using ::testing::HasSubstr;
using testing::load_yaml;
using ::testing::Not;

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_secrets_for_testing(); }
  void TearDown() override { clear_secrets_for_testing(); }
};

TEST_F(SecretsTest, SecretNamedKeysAreRegistered) {
  LoadResult result = load_yaml(R"(endpoints:
  pg:
    type: postgres
    host: db
    password: hunter2-password
    dsn: postgres://app:dsn-pass-42@db/app
  a:
    type: fs
    path: /a
jobs:
  j:
    kind: database
    source: pg
    targets: a
    extra:
      api_key: key-value-123
      tokens: [tok-one-aaa, tok-two-bbb]
)");
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(redact("x hunter2-password x"), "x *** x");
  EXPECT_EQ(redact("postgres://app:dsn-pass-42@db/app"), "***");  // dsn is declared secret
  EXPECT_EQ(redact("key-value-123"), "***");
  EXPECT_EQ(redact("tok-one-aaa tok-two-bbb"), "*** ***");
  EXPECT_EQ(redact("db"), "db");
}

TEST_F(SecretsTest, SecretNamedVariablesAreRegistered) {
  LoadResult result =
      load_yaml("endpoints:\n  pg: {type: postgres, host: db, user: '${DB_PASSWORD}-${OTHER}'}\n",
                {{"DB_PASSWORD", "var-secret-99"}, {"OTHER", "plain-value"}});
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(redact("var-secret-99"), "***");
  EXPECT_EQ(redact("plain-value"), "plain-value");
}

TEST_F(SecretsTest, TokenHashesAreNotSecrets) {
  const std::string hash(64, 'a');
  LoadResult result = load_yaml("api:\n  tokens:\n    - {name: ci-user, sha256: " + hash + "}\n");
  ASSERT_TRUE(result.ok()) << error_text(result);
  EXPECT_EQ(redact(hash), hash);
  EXPECT_EQ(redact("ci-user"), "ci-user");
}

TEST_F(SecretsTest, SecretsNeverAppearInErrors) {
  // Every value below is a secret placed where it provokes an error that would
  // otherwise quote it.
  LoadResult result = load_yaml(R"(endpoints:
  pg:
    type: postgres
    host: db
    port: ${DB_PASSWORD}
    password: [S3cret-in-list]
    dsn: ${DSN}
    tls: {enabled: '${API_TOKEN}'}
  a: {type: fs, path: /a, mode: '${SECRET_MODE}'}
jobs:
  j:
    kind: database
    source: ${PRIVATE_SOURCE}
    targets: a
    workers: ${WORKERS_AUTH:-W0rkers-secret}
    extra: {password: '${MISSING_PASSWORD}'}
api:
  tokens:
    - {name: x, sha256: raw-bearer-token-pasted-here}
  listen: ${LISTEN_SECRET}
)",
                                {{"DB_PASSWORD", "Pa55word-port"},
                                 {"DSN", "D5n-secret-value"},
                                 {"API_TOKEN", "T0ken-secret-value"},
                                 {"SECRET_MODE", "M0de-secret"},
                                 {"PRIVATE_SOURCE", "Src-secret-name"},
                                 {"LISTEN_SECRET", "L1sten-secret"}});
  ASSERT_FALSE(result.ok());
  const std::string text = error_text(result);
  for (const char* secret :
       {"Pa55word-port", "S3cret-in-list", "T0ken-secret-value", "M0de-secret", "Src-secret-name",
        "W0rkers-secret", "raw-bearer-token-pasted-here", "L1sten-secret"}) {
    EXPECT_THAT(text, Not(HasSubstr(secret))) << text;
  }
  EXPECT_THAT(text, HasSubstr("the value of 'port'"));
  EXPECT_THAT(text, HasSubstr("variable MISSING_PASSWORD is not set"));
  EXPECT_THAT(text, HasSubstr("expected a whole number, got the value of 'port'"));
  EXPECT_GE(result.errors.size(), 7u) << text;
}

TEST_F(SecretsTest, SecretInDsnKeptOutOfTypeErrors) {
  LoadResult result =
      load_yaml("endpoints:\n  pg: {type: postgres, host: db, dsn: [a-secret-dsn-value]}\n");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(error_text(result), Not(HasSubstr("a-secret-dsn-value")));
}

}  // namespace
}  // namespace megasync::config
