// The redis_streams connector's pure conversions: stream entries to messages
// (ids, payload, key, headers, timestamp) and messages to XADD arguments.
#include <gtest/gtest.h>

#include "connectors/redis_streams/sink.h"
#include "connectors/redis_streams/source.h"

namespace megasync::connectors::redis_streams {
namespace {

TEST(RedisStreamsConvert, EntryBecomesMessage) {
  StreamsOptions options;
  const std::string binary("\x00\xff\n", 3);
  Message m = message_of(options, "orders", "1700000000123-4",
                         {"payload", binary, "key", "k1", "region", "eu", "id", "x"});
  EXPECT_EQ(m.topic, "orders");
  EXPECT_EQ(m.id, "orders:1700000000123-4");
  EXPECT_EQ(m.payload, binary);
  EXPECT_EQ(m.key, "k1");
  EXPECT_EQ(m.timestamp_ms, 1700000000123);
  ASSERT_EQ(m.headers.size(), 2u);
  EXPECT_EQ(m.headers[0], (std::pair<std::string, std::string>("region", "eu")));
  EXPECT_EQ(m.headers[1], (std::pair<std::string, std::string>("id", "x")));
}

TEST(RedisStreamsConvert, IdFieldNamesTheId) {
  StreamsOptions options;
  options.id_field = "mid";
  options.payload_field = "body";
  Message m = message_of(options, "s", "1-0", {"body", "b", "mid", "m-7"});
  EXPECT_EQ(m.id, "m-7");
  EXPECT_EQ(m.payload, "b");
  EXPECT_FALSE(m.key.has_value());
  EXPECT_TRUE(m.headers.empty());
  // Without the field the entry id stands in.
  EXPECT_EQ(message_of(options, "s", "1-0", {"body", "b"}).id, "s:1-0");
}

TEST(RedisStreamsConvert, XaddArguments) {
  StreamsOptions options;
  options.maxlen = 1000;
  Message m;
  m.id = "s:1-0";
  m.payload = "p";
  m.key = "k";
  m.headers = {{"h", "v"}, {"id", "shadowed"}};
  EXPECT_EQ(xadd_args(options, "out", m),
            (std::vector<std::string>{"XADD", "out", "MAXLEN", "~", "1000", "*", "payload", "p",
                                      "key", "k", "id", "s:1-0", "h", "v"}));
  options.maxlen.reset();
  m.key.reset();
  EXPECT_EQ(xadd_args(options, "out", m), (std::vector<std::string>{"XADD", "out", "*", "payload",
                                                                    "p", "id", "s:1-0", "h", "v"}));
}

}  // namespace
}  // namespace megasync::connectors::redis_streams
