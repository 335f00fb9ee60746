// The MQTT packet codec of the mqtt source's receiver (packet.h): variable
// byte integers at their edges, framing, v5 properties, the packets built
// (byte for byte against MQTT 5.0 / 3.1.1) and the packets read, truncated and
// malformed input.
#include "connectors/mqtt/packet.h"

#include <gtest/gtest.h>

#include <string>

namespace megasync::connectors::mqtt {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) {
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::string varint(std::uint32_t value) {
  std::string out;
  put_varint(out, value);
  return out;
}

TEST(MqttPacket, VariableByteIntegerEdges) {
  // MQTT 5.0, 1.5.5: the boundaries of 1, 2, 3 and 4 bytes.
  EXPECT_EQ(varint(0), bytes({0x00}));
  EXPECT_EQ(varint(127), bytes({0x7F}));
  EXPECT_EQ(varint(128), bytes({0x80, 0x01}));
  EXPECT_EQ(varint(16383), bytes({0xFF, 0x7F}));
  EXPECT_EQ(varint(16384), bytes({0x80, 0x80, 0x01}));
  EXPECT_EQ(varint(2097151), bytes({0xFF, 0xFF, 0x7F}));
  EXPECT_EQ(varint(2097152), bytes({0x80, 0x80, 0x80, 0x01}));
  EXPECT_EQ(varint(kMaxVarint), bytes({0xFF, 0xFF, 0xFF, 0x7F}));
  for (const std::uint32_t v : {0u, 127u, 128u, 16383u, 16384u, 2097151u, 2097152u, kMaxVarint}) {
    const std::string encoded = varint(v);
    std::size_t pos = 0;
    Result<std::optional<std::uint32_t>> back = get_varint(encoded, pos);
    ASSERT_TRUE(back.has_value()) << v;
    ASSERT_TRUE(back->has_value()) << v;
    EXPECT_EQ(**back, v);
    EXPECT_EQ(pos, encoded.size());
  }
}

TEST(MqttPacket, VariableByteIntegerTruncatedAndMalformed) {
  std::size_t pos = 0;
  Result<std::optional<std::uint32_t>> partial = get_varint(bytes({0x80, 0x80}), pos);
  ASSERT_TRUE(partial.has_value());
  EXPECT_FALSE(partial->has_value());  // more bytes to come
  EXPECT_EQ(pos, 0u);
  pos = 0;
  Result<std::optional<std::uint32_t>> five =
      get_varint(bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x01}), pos);
  ASSERT_FALSE(five.has_value());  // a fifth byte: malformed
  EXPECT_EQ(five.error().code(), ErrorCode::kPermanent);
}

TEST(MqttPacket, Frames) {
  const std::string ping = encode_pingreq();
  EXPECT_EQ(ping, bytes({0xC0, 0x00}));
  // Two packets and the start of a third in one stream.
  std::string stream = bytes({0xD0, 0x00}) + bytes({0x40, 0x02, 0x00, 0x07}) + bytes({0x30, 0x05});
  Result<std::optional<Frame>> a = next_frame(stream, kMaxVarint);
  ASSERT_TRUE(a.has_value() && a->has_value());
  EXPECT_EQ((*a)->type, static_cast<int>(PacketType::kPingresp));
  EXPECT_EQ((*a)->size, 2u);
  Result<std::optional<Frame>> b = next_frame(std::string_view(stream).substr(2), kMaxVarint);
  ASSERT_TRUE(b.has_value() && b->has_value());
  EXPECT_EQ((*b)->type, static_cast<int>(PacketType::kPuback));
  EXPECT_EQ((*b)->body, bytes({0x00, 0x07}));
  Result<std::optional<Frame>> c = next_frame(std::string_view(stream).substr(6), kMaxVarint);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->has_value());  // truncated: wait for the rest
  // A remaining length of five bytes is malformed; one above the limit too.
  EXPECT_FALSE(next_frame(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), kMaxVarint).has_value());
  EXPECT_FALSE(next_frame(bytes({0x30, 0x80, 0x01}), 100).has_value());
  // A length split across reads is not an error.
  Result<std::optional<Frame>> split = next_frame(bytes({0x30, 0x80}), kMaxVarint);
  ASSERT_TRUE(split.has_value());
  EXPECT_FALSE(split->has_value());
}

TEST(MqttPacket, ConnectV5) {
  ConnectParams params;
  params.protocol = 5;
  params.client_id = "megasync-j";
  params.keepalive_s = 30;
  params.user = "u";
  params.password = "p";
  params.session_expiry_s = 3600;
  params.receive_maximum = 1000;
  const std::string packet = encode_connect(params);
  const std::string body =
      bytes({0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0xC0, 0x00, 0x1E}) +
      // properties: session expiry 3600, receive maximum 1000, topic alias maximum 0
      bytes({0x0B, 0x11, 0x00, 0x00, 0x0E, 0x10, 0x21, 0x03, 0xE8, 0x22, 0x00, 0x00}) +
      bytes({0x00, 0x0A}) + "megasync-j" + bytes({0x00, 0x01, 'u', 0x00, 0x01, 'p'});
  EXPECT_EQ(packet, bytes({0x10, static_cast<int>(body.size())}) + body);
}

TEST(MqttPacket, ConnectV311) {
  ConnectParams params;
  params.protocol = 4;
  params.client_id = "c";
  params.keepalive_s = 10;
  const std::string body =
      bytes({0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x00, 0x00, 0x0A, 0x00, 0x01, 'c'});
  EXPECT_EQ(encode_connect(params), bytes({0x10, static_cast<int>(body.size())}) + body);
}

TEST(MqttPacket, Connack) {
  Result<Connack> v5 =
      decode_connack(bytes({0x01, 0x00, 0x06, 0x13, 0x00, 0x3C, 0x21, 0x00, 0x14}), 5);
  ASSERT_TRUE(v5.has_value()) << v5.error().message();
  EXPECT_TRUE(v5->session_present);
  EXPECT_EQ(v5->reason, 0);
  EXPECT_EQ(v5->properties.server_keep_alive, 60);
  EXPECT_EQ(v5->properties.receive_maximum, 20);
  Result<Connack> refused = decode_connack(bytes({0x00, 0x87, 0x00}), 5);
  ASSERT_TRUE(refused.has_value());
  EXPECT_FALSE(refused->session_present);
  EXPECT_EQ(refused->reason, 0x87);
  Result<Connack> v311 = decode_connack(bytes({0x00, 0x05}), 4);
  ASSERT_TRUE(v311.has_value());
  EXPECT_EQ(v311->reason, 5);
  EXPECT_FALSE(decode_connack(bytes({0x00}), 4).has_value());
  EXPECT_FALSE(decode_connack(bytes({0x02, 0x00}), 4).has_value());  // reserved flag
  // A property block longer than the packet.
  EXPECT_FALSE(decode_connack(bytes({0x00, 0x00, 0x05, 0x13, 0x00}), 5).has_value());
}

TEST(MqttPacket, Subscribe) {
  EXPECT_EQ(encode_subscribe(1, {"a/#", "b"}, 1, 5),
            bytes({0x82, 0x0D, 0x00, 0x01, 0x00, 0x00, 0x03, 'a', '/', '#', 0x11, 0x00, 0x01, 'b',
                   0x11}));
  EXPECT_EQ(encode_subscribe(1, {"b"}, 1, 4),
            bytes({0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'b', 0x01}));
  Result<Suback> v5 = decode_suback(bytes({0x00, 0x01, 0x00, 0x01, 0x87}), 5);
  ASSERT_TRUE(v5.has_value());
  EXPECT_EQ(v5->packet_id, 1);
  EXPECT_EQ(v5->codes, (std::vector<std::uint8_t>{0x01, 0x87}));
  Result<Suback> v311 = decode_suback(bytes({0x00, 0x01, 0x01}), 4);
  ASSERT_TRUE(v311.has_value());
  EXPECT_EQ(v311->codes, (std::vector<std::uint8_t>{0x01}));
}

TEST(MqttPacket, PublishV5WithProperties) {
  // QoS 1, DUP, retain; topic "t/1", id 0x1234, properties: payload format 1,
  // content type "text/plain", two user properties, a subscription id.
  std::string props = bytes({0x01, 0x01, 0x03, 0x00, 0x0A}) + "text/plain" +
                      bytes({0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'}) +
                      bytes({0x26, 0x00, 0x01, 'k', 0x00, 0x00}) + bytes({0x0B, 0x80, 0x01});
  std::string body = bytes({0x00, 0x03, 't', '/', '1', 0x12, 0x34}) +
                     bytes({static_cast<int>(props.size())}) + props + "hello";
  Result<Publish> p = decode_publish(0x0B, body, 5);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(p->topic, "t/1");
  EXPECT_EQ(p->qos, 1);
  EXPECT_TRUE(p->dup);
  EXPECT_TRUE(p->retain);
  EXPECT_EQ(p->packet_id, 0x1234);
  EXPECT_EQ(p->payload, "hello");
  EXPECT_EQ(p->properties.payload_format, 1);
  EXPECT_EQ(p->properties.content_type, "text/plain");
  ASSERT_EQ(p->properties.user_properties.size(), 2u);
  EXPECT_EQ(p->properties.user_properties[0], (std::pair<std::string, std::string>{"k", "v"}));
  EXPECT_EQ(p->properties.user_properties[1], (std::pair<std::string, std::string>{"k", ""}));
}

TEST(MqttPacket, PublishV311AndQos0) {
  Result<Publish> q0 = decode_publish(0x00, bytes({0x00, 0x01, 'x'}) + std::string("\0b", 2), 4);
  ASSERT_TRUE(q0.has_value());
  EXPECT_EQ(q0->qos, 0);
  EXPECT_EQ(q0->packet_id, 0);
  EXPECT_EQ(q0->payload, std::string("\0b", 2));
  Result<Publish> topic_alias =
      decode_publish(0x02, bytes({0x00, 0x00, 0x00, 0x05, 0x03, 0x23, 0x00, 0x02}), 5);
  ASSERT_TRUE(topic_alias.has_value());
  EXPECT_EQ(topic_alias->topic, "");
  EXPECT_EQ(topic_alias->properties.topic_alias, 2);
}

TEST(MqttPacket, PublishMalformed) {
  // Topic longer than the packet.
  EXPECT_FALSE(decode_publish(0x02, bytes({0x00, 0x09, 't'}), 5).has_value());
  // QoS 1 without its packet id, or with id 0.
  EXPECT_FALSE(decode_publish(0x02, bytes({0x00, 0x01, 't', 0x00}), 4).has_value());
  EXPECT_FALSE(decode_publish(0x02, bytes({0x00, 0x01, 't', 0x00, 0x00}), 4).has_value());
  // QoS 3.
  EXPECT_FALSE(decode_publish(0x06, bytes({0x00, 0x01, 't', 0x00, 0x01}), 4).has_value());
  // An unknown property, a property cut short, a missing property block.
  EXPECT_FALSE(decode_publish(0x00, bytes({0x00, 0x01, 't', 0x02, 0x7E, 0x00}), 5).has_value());
  EXPECT_FALSE(decode_publish(0x00, bytes({0x00, 0x01, 't', 0x02, 0x23, 0x00}), 5).has_value());
  EXPECT_FALSE(decode_publish(0x00, bytes({0x00, 0x01, 't'}), 5).has_value());
  // A user property whose value runs past the block.
  EXPECT_FALSE(decode_publish(0x00, bytes({0x00, 0x01, 't', 0x05, 0x26, 0x00, 0x00, 0x00, 0x09}), 5)
                   .has_value());
}

TEST(MqttPacket, AcksAndDisconnect) {
  EXPECT_EQ(encode_puback(0x0102), bytes({0x40, 0x02, 0x01, 0x02}));
  EXPECT_EQ(encode_disconnect(4, std::nullopt), bytes({0xE0, 0x00}));
  EXPECT_EQ(encode_disconnect(5, std::nullopt), bytes({0xE0, 0x00}));
  EXPECT_EQ(encode_disconnect(5, 0u),
            bytes({0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00}));
  Result<Disconnect> empty = decode_disconnect("", 5);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->reason, 0);
  Result<Disconnect> reason = decode_disconnect(bytes({0x8B, 0x05, 0x1F, 0x00, 0x02, 'b', 'y'}), 5);
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(reason->reason, 0x8B);
  EXPECT_EQ(reason->properties.reason_string, "by");
}

}  // namespace
}  // namespace megasync::connectors::mqtt
