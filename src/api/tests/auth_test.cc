#include "api/auth.h"

#include <gtest/gtest.h>

#include "api/listen_address.h"
#include "api/router.h"

namespace megasync::api {
namespace {

TEST(Sha256Hex, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ParseBearer, AcceptsBearerSchemeOnly) {
  EXPECT_EQ(parse_bearer("Bearer abc.def-123"), "abc.def-123");
  EXPECT_EQ(parse_bearer("bearer abc"), "abc");  // scheme is case-insensitive
  EXPECT_EQ(parse_bearer("BEARER   abc  "), "abc");
  for (const char* bad : {"", "Bearer", "Bearer ", "Bearerabc", "Basic dXNlcjpwYXNz", "Token abc",
                          "Bearer a b", "abc"}) {
    EXPECT_EQ(parse_bearer(bad), std::nullopt) << bad;
  }
}

TEST(FindToken, MatchesByHash) {
  const std::vector<config::ApiToken> tokens = {{"a", sha256_hex("token-a"), config::Role::kViewer},
                                                {"b", sha256_hex("token-b"), config::Role::kAdmin},
                                                {"broken", "not-a-hash", config::Role::kAdmin}};
  ASSERT_NE(find_token(tokens, "token-b"), nullptr);
  EXPECT_EQ(find_token(tokens, "token-b")->name, "b");
  EXPECT_EQ(find_token(tokens, "token-c"), nullptr);
  EXPECT_EQ(find_token(tokens, sha256_hex("token-a")), nullptr);  // the hash is not the token
  EXPECT_EQ(find_token({}, "token-a"), nullptr);
}

TEST(Roles, AreOrdered) {
  using config::Role;
  EXPECT_TRUE(role_allows(Role::kAdmin, Role::kOperator));
  EXPECT_TRUE(role_allows(Role::kOperator, Role::kOperator));
  EXPECT_FALSE(role_allows(Role::kViewer, Role::kOperator));
  EXPECT_TRUE(role_allows(Role::kViewer, Role::kViewer));
  EXPECT_EQ(role_name(Role::kOperator), "operator");
}

TEST(ListenAddress, Parses) {
  auto a = parse_listen("127.0.0.1:7171");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7171);
  auto b = parse_listen("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = parse_listen(":9090");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "");
  for (const char* bad :
       {"", "7171", "host:", "host:http", "host:70000", "host:-1", "::1:7171", "[::1:7171"}) {
    const auto r = parse_listen(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidConfig);
  }
}

TEST(ListenAddress, Loopback) {
  for (const char* host : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"", "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com",
                           "localhost.example.com", "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
  EXPECT_TRUE(is_loopback_listen("[::1]:7171"));
  EXPECT_FALSE(is_loopback_listen("0.0.0.0:7171"));
  EXPECT_FALSE(is_loopback_listen("garbage"));
}

}  // namespace
}  // namespace megasync::api
