// Pure logic of the mqtt connector: topic name and filter checks, the client
// id derived from a job, and the mapping between MQTT v5 messages and megasync
// messages (no broker).
#include <gtest/gtest.h>

#include "connectors/mqtt/convert.h"

namespace megasync::connectors::mqtt {
namespace {

TEST(MqttTopics, PublishableNames) {
  EXPECT_EQ(invalid_topic_name("copy/orders/eu"), "");
  EXPECT_EQ(invalid_topic_name("/leading/and/trailing/"), "");
  EXPECT_NE(invalid_topic_name(""), "");
  EXPECT_NE(invalid_topic_name("orders/+"), "");
  EXPECT_NE(invalid_topic_name("orders/#"), "");
  EXPECT_NE(invalid_topic_name("a+b"), "");
  EXPECT_NE(invalid_topic_name(std::string("a\0b", 3)), "");
  EXPECT_NE(invalid_topic_name("\xff"), "");
  EXPECT_EQ(invalid_topic_name("caf\xc3\xa9"), "");
  EXPECT_NE(invalid_topic_name(std::string(65536, 'a')), "");
}

TEST(MqttTopics, Filters) {
  EXPECT_EQ(invalid_topic_filter("orders/#"), "");
  EXPECT_EQ(invalid_topic_filter("sensors/+/temp"), "");
  EXPECT_EQ(invalid_topic_filter("#"), "");
  EXPECT_EQ(invalid_topic_filter("+"), "");
  EXPECT_NE(invalid_topic_filter("orders/#/x"), "");
  EXPECT_NE(invalid_topic_filter("orders/a#"), "");
  EXPECT_NE(invalid_topic_filter("orders+/x"), "");
  EXPECT_NE(invalid_topic_filter(""), "");
}

TEST(MqttClientId, DerivedFromTheJob) {
  EXPECT_EQ(default_client_id("orders"), "megasync-orders");
  EXPECT_EQ(default_client_id("a.b/c d+e"), "megasync-a_b_c_d_e");
}

TEST(MqttMapping, PropertiesBecomeIdKeyTimestampAndHeaders) {
  WireMessage wire{.topic = "orders/eu",
                   .payload = std::string("{\"n\":1}\0x", 9),
                   .user_properties = {{"trace", "t-1"},
                                       {"message-id", "m-7"},
                                       {"key", "customer-3"},
                                       {"timestamp", "1700000000123"},
                                       {"trace", "t-2"}},
                   .content_type = "application/json"};
  const Message message = to_message(wire, PropertyNames{});
  EXPECT_EQ(message.topic, "orders/eu");
  EXPECT_EQ(message.payload, wire.payload);
  EXPECT_EQ(message.id, "m-7");
  EXPECT_EQ(message.key, "customer-3");
  EXPECT_EQ(message.timestamp_ms, 1700000000123);
  EXPECT_EQ(message.content_type, "application/json");
  const std::vector<std::pair<std::string, std::string>> headers = {{"trace", "t-1"},
                                                                    {"trace", "t-2"}};
  EXPECT_EQ(message.headers, headers);

  // And back: the same properties, ours after the headers.
  const WireMessage back = to_wire(message, "copy/orders/eu", PropertyNames{});
  EXPECT_EQ(back.topic, "copy/orders/eu");
  EXPECT_EQ(back.payload, wire.payload);
  EXPECT_EQ(back.content_type, "application/json");
  const std::vector<std::pair<std::string, std::string>> properties = {
      {"trace", "t-1"},
      {"trace", "t-2"},
      {"message-id", "m-7"},
      {"key", "customer-3"},
      {"timestamp", "1700000000123"}};
  EXPECT_EQ(back.user_properties, properties);
}

TEST(MqttMapping, ConfiguredPropertyNames) {
  PropertyNames names{.id = "msg", .key = "partition", .timestamp = "ts"};
  WireMessage wire{.topic = "t", .payload = "p", .user_properties = {{"msg", "1"}, {"key", "k"}}};
  const Message message = to_message(wire, names);
  EXPECT_EQ(message.id, "1");
  EXPECT_FALSE(message.key);
  ASSERT_EQ(message.headers.size(), 1U);
  EXPECT_EQ(message.headers[0].first, "key");
}

TEST(MqttMapping, ContentIdWithoutAnIdProperty) {
  WireMessage a{.topic = "t", .payload = "p", .user_properties = {{"h", "1"}}};
  WireMessage b = a;
  const Message first = to_message(a, PropertyNames{});
  EXPECT_EQ(first.id.rfind("xxh3-", 0), 0U);
  EXPECT_EQ(first.id.size(), 5U + 32U);
  EXPECT_EQ(to_message(b, PropertyNames{}).id, first.id);  // a redelivery: same id
  b.payload = "q";
  EXPECT_NE(to_message(b, PropertyNames{}).id, first.id);
  b = a;
  b.topic = "u";
  EXPECT_NE(to_message(b, PropertyNames{}).id, first.id);
  b = a;
  b.user_properties[0].second = "2";
  EXPECT_NE(to_message(b, PropertyNames{}).id, first.id);
}

TEST(MqttMapping, ATimestampThatIsNotANumberStaysAHeader) {
  WireMessage wire{.topic = "t", .payload = "", .user_properties = {{"timestamp", "yesterday"}}};
  const Message message = to_message(wire, PropertyNames{});
  EXPECT_FALSE(message.timestamp_ms);
  ASSERT_EQ(message.headers.size(), 1U);
  EXPECT_EQ(message.headers[0].second, "yesterday");
}

TEST(MqttMapping, HeadersNamedLikeOurPropertiesAreReplaced) {
  Message message;
  message.id = "real";
  message.headers = {{"message-id", "stale"}, {"other", "x"}};
  const WireMessage wire = to_wire(message, "t", PropertyNames{});
  const std::vector<std::pair<std::string, std::string>> properties = {{"other", "x"},
                                                                       {"message-id", "real"}};
  EXPECT_EQ(wire.user_properties, properties);
}

}  // namespace
}  // namespace megasync::connectors::mqtt
