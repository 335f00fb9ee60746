// The rabbitmq connector's pure conversions: header tables to text, messages
// from deliveries (ids, timestamps), and publish properties.
#include <gtest/gtest.h>

#include "connectors/rabbitmq/convert.h"

namespace megasync::connectors::rabbitmq {
namespace {

amqp_table_entry_t entry(const char* key, amqp_field_value_t value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value = value;
  return e;
}

amqp_field_value_t field(char kind) {
  amqp_field_value_t v{};
  v.kind = static_cast<std::uint8_t>(kind);
  return v;
}

TEST(RabbitConvert, HeaderValuesBecomeText) {
  amqp_field_value_t text = field(AMQP_FIELD_KIND_UTF8);
  text.value.bytes = amqp_cstring_bytes("eu");
  amqp_field_value_t number = field(AMQP_FIELD_KIND_I64);
  number.value.i64 = -42;
  amqp_field_value_t flag = field(AMQP_FIELD_KIND_BOOLEAN);
  flag.value.boolean = 1;
  amqp_field_value_t real = field(AMQP_FIELD_KIND_F64);
  real.value.f64 = 0.5;
  amqp_field_value_t decimal = field(AMQP_FIELD_KIND_DECIMAL);
  decimal.value.decimal.decimals = 2;
  decimal.value.decimal.value = 1234;
  amqp_field_value_t nothing = field(AMQP_FIELD_KIND_VOID);
  amqp_field_value_t items[2] = {number, text};
  amqp_field_value_t array = field(AMQP_FIELD_KIND_ARRAY);
  array.value.array.num_entries = 2;
  array.value.array.entries = items;

  amqp_table_entry_t entries[] = {
      entry("region", text),   entry("count", number), entry("ok", flag),   entry("ratio", real),
      entry("price", decimal), entry("none", nothing), entry("list", array)};
  amqp_table_t table{};
  table.num_entries = 7;
  table.entries = entries;
  const auto headers = table_headers(table);
  ASSERT_EQ(headers.size(), 7U);
  EXPECT_EQ(headers[0], std::make_pair(std::string("region"), std::string("eu")));
  EXPECT_EQ(headers[1].second, "-42");
  EXPECT_EQ(headers[2].second, "true");
  EXPECT_EQ(headers[3].second, "0.5");
  EXPECT_EQ(headers[4].second, "1234e-2");
  EXPECT_EQ(headers[5].second, "");
  EXPECT_EQ(headers[6].second, R"([-42,"eu"])");
}

TEST(RabbitConvert, MessageIdPropertyIsTheId) {
  amqp_basic_properties_t p{};
  p._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  p.message_id = amqp_cstring_bytes("m-1");
  p.timestamp = 1700000000;
  p.content_type = amqp_cstring_bytes("application/json");
  Delivery d{.queue = "orders",
             .exchange = "x",
             .routing_key = "orders.eu",
             .body = "{}",
             .properties = &p};
  const Message m = to_message(d);
  EXPECT_EQ(m.id, "m-1");
  EXPECT_EQ(m.topic, "orders");
  EXPECT_EQ(m.key, "orders.eu");
  EXPECT_EQ(m.timestamp_ms, 1700000000000);
  EXPECT_EQ(m.content_type, "application/json");
}

TEST(RabbitConvert, IdWithoutMessageIdIsStableAndContentBased) {
  Delivery a{.queue = "q", .exchange = "", .routing_key = "q", .body = std::string("a\0b", 3)};
  Delivery same = a;
  Delivery other = a;
  other.body = "ab";
  const Message m = to_message(a);
  EXPECT_TRUE(m.id.starts_with("xxh3-"));
  EXPECT_EQ(m.id.size(), 5U + 32U);
  EXPECT_EQ(m.id, to_message(same).id);
  EXPECT_NE(m.id, to_message(other).id);
  Delivery elsewhere = a;
  elsewhere.queue = "q2";
  EXPECT_NE(m.id, to_message(elsewhere).id);
}

TEST(RabbitConvert, PropertiesRoundTrip) {
  Message m;
  m.topic = "orders";
  m.id = "id-7";
  m.payload = "body";
  m.content_type = "text/plain";
  m.timestamp_ms = 1700000000123;
  m.headers = {{"a", "1"}, {"b", "x"}};
  PublishProperties out;
  fill_properties(m, /*persistent=*/true, out);
  EXPECT_EQ(out.properties.delivery_mode, AMQP_DELIVERY_PERSISTENT);
  EXPECT_EQ(to_string(out.properties.message_id), "id-7");
  EXPECT_EQ(out.properties.timestamp, 1700000000U);
  Delivery d{.queue = "orders",
             .exchange = "",
             .routing_key = "k",
             .body = "body",
             .properties = &out.properties};
  const Message back = to_message(d);
  EXPECT_EQ(back.id, "id-7");
  EXPECT_EQ(back.headers, m.headers);
  EXPECT_EQ(back.content_type, "text/plain");
  EXPECT_EQ(back.timestamp_ms, 1700000000000);  // AMQP keeps seconds

  PublishProperties transient;
  fill_properties(m, /*persistent=*/false, transient);
  EXPECT_EQ(transient.properties._flags & AMQP_BASIC_DELIVERY_MODE_FLAG, 0);
}

}  // namespace
}  // namespace megasync::connectors::rabbitmq
