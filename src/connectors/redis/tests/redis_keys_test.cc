#include <gtest/gtest.h>

#include "connectors/redis/keys.h"

namespace megasync::connectors::redis {
namespace {

TEST(RedisGlob, MatchesLikeRedis) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("user:*", "user:42"));
  EXPECT_FALSE(glob_match("user:*", "session:1"));
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_FALSE(glob_match("h[a-b]llo", "hcllo"));
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axb"));
  EXPECT_TRUE(glob_match("*:*:end", "a:b:c:end"));
  EXPECT_FALSE(glob_match("*:*:end", "a:end"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST(RedisKeyFilter, IncludeThenExclude) {
  KeyFilter all;
  EXPECT_TRUE(all.matches("x"));
  EXPECT_EQ(all.scan_pattern(), "*");
  KeyFilter filter{.include = {"user:*", "cart:*"}, .exclude = {"*:tmp"}};
  EXPECT_TRUE(filter.matches("user:1"));
  EXPECT_TRUE(filter.matches("cart:9"));
  EXPECT_FALSE(filter.matches("user:1:tmp"));
  EXPECT_FALSE(filter.matches("other"));
  EXPECT_EQ(filter.scan_pattern(), "*");
  KeyFilter one{.include = {"user:*"}};
  EXPECT_EQ(one.scan_pattern(), "user:*");
}

TEST(RedisCollections, NamesAndIndexes) {
  EXPECT_EQ(collection_of(3), "db3");
  EXPECT_EQ(db_of("db0"), 0);
  EXPECT_EQ(db_of("db15"), 15);
  EXPECT_FALSE(db_of("db"));
  EXPECT_FALSE(db_of("db01"));
  EXPECT_FALSE(db_of("users"));
  EXPECT_FALSE(db_of("db-1"));
  EXPECT_FALSE(db_of("db99999"));
}

TEST(RedisPositions, RoundTripAndOrder) {
  const Position a = encode_position({.epoch_ms = 1700000000000, .seq = 9});
  const Position b = encode_position({.epoch_ms = 1700000000000, .seq = 10});
  const Position c = encode_position({.epoch_ms = 1700000000001, .seq = 0});
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  std::optional<SourcePosition> decoded = decode_position(b);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->epoch_ms, 1700000000000);
  EXPECT_EQ(decoded->seq, 10);
  EXPECT_FALSE(decode_position(""));
  EXPECT_FALSE(decode_position("00000000000000000042"));
  EXPECT_FALSE(decode_position("x"));
}

TEST(RedisNotifications, Channels) {
  std::optional<KeyspaceEvent> event = parse_keyspace_channel("__keyspace@3__:user:1:name");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->db, 3);
  EXPECT_EQ(event->key, "user:1:name");
  EXPECT_FALSE(parse_keyspace_channel("__keyevent@0__:set"));
  EXPECT_FALSE(parse_keyspace_channel("__keyspace@x__:k"));
}

TEST(RedisNotifications, MissingFlags) {
  EXPECT_EQ(missing_notify_flags(""), "Kg$lshzxet");
  EXPECT_EQ(missing_notify_flags("KA"), "");
  EXPECT_EQ(missing_notify_flags("AKE"), "");
  EXPECT_EQ(missing_notify_flags("Ex"), "Kg$lshzet");
  EXPECT_EQ(missing_notify_flags("Kg$lshzxet"), "");
}

TEST(RedisDigest, LeavesAndHashes) {
  EXPECT_LT(leaf_of_key("user:1", 12), 4096u);
  EXPECT_EQ(leaf_of_key("user:1", 12), leaf_of_key("user:1", 12));
  EXPECT_NE(key_state_hash("k", "d", -1), key_state_hash("k", "d", 5));
  EXPECT_NE(key_state_hash("k", "d", -1), key_state_hash("kd", "", -1));
  EXPECT_EQ(key_state_hash("k", "d", 7), key_state_hash("k", "d", 7));
}

}  // namespace
}  // namespace megasync::connectors::redis
