#include "core/redact.h"

#include <gtest/gtest.h>

namespace megasync {
namespace {

class RedactTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_secrets_for_testing(); }
  void TearDown() override { clear_secrets_for_testing(); }
};

TEST_F(RedactTest, ReplacesRegisteredSecrets) {
  register_secret("hunter2-long");
  EXPECT_EQ(redact("login with hunter2-long failed; hunter2-long again"),
            "login with *** failed; *** again");
}

TEST_F(RedactTest, LongestSecretWinsWhenOneContainsAnother) {
  register_secret("abc");
  register_secret("abcdef");
  EXPECT_EQ(redact("x abcdef y abc"), "x *** y ***");
}

TEST_F(RedactTest, IgnoresTooShortValues) {
  register_secret("ab");
  EXPECT_EQ(redact("tab ab"), "tab ab");
}

TEST_F(RedactTest, MasksUrlPasswords) {
  EXPECT_EQ(redact("postgres://app:s3cr%40t@db:5432/x and amqp://guest:guest@localhost/"),
            "postgres://app:***@db:5432/x and amqp://guest:***@localhost/");
  EXPECT_EQ(redact("http://host:8080/path@x"), "http://host:8080/path@x");
  EXPECT_EQ(redact("redis://:pw123@cache:6379"), "redis://:***@cache:6379");
}

TEST_F(RedactTest, SecretNames) {
  for (const char* name : {"password", "PG_PASSWORD", "secret_key", "api_key", "KEY", "token",
                           "AWS_SECRET_ACCESS_KEY", "client_secret", "credentials", "auth"}) {
    EXPECT_TRUE(is_secret_name(name)) << name;
  }
  for (const char* name : {"path", "keyspace", "keep_versions", "monkey", "interval", "author"}) {
    EXPECT_FALSE(is_secret_name(name)) << name;
  }
}

}  // namespace
}  // namespace megasync
