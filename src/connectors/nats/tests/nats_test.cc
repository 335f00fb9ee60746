// Pure logic of the nats connector: subject filters, subject checks, durable
// names, server display, and the conversion of a NATS message (built locally
// with cnats, no server) to a megasync message.
#include <gtest/gtest.h>

#include "connectors/nats/service.h"
#include "connectors/nats/source.h"

namespace megasync::connectors::nats {
namespace {

TEST(NatsSubjects, WildcardsMatchLikeTheServer) {
  EXPECT_TRUE(subject_matches("orders.*", "orders.eu"));
  EXPECT_FALSE(subject_matches("orders.*", "orders.eu.paid"));
  EXPECT_FALSE(subject_matches("orders.*", "orders"));
  EXPECT_TRUE(subject_matches("orders.>", "orders.eu.paid"));
  EXPECT_FALSE(subject_matches("orders.>", "orders"));
  EXPECT_TRUE(subject_matches(">", "a"));
  EXPECT_TRUE(subject_matches("*.eu", "orders.eu"));
  EXPECT_TRUE(subject_matches("orders.eu", "orders.eu"));
  EXPECT_FALSE(subject_matches("orders.eu", "orders.us"));
  EXPECT_FALSE(subject_matches("orders.eu", "orders.eu.x"));
}

TEST(NatsSubjects, PublishableSubjects) {
  EXPECT_EQ(invalid_subject("copy.orders.eu"), "");
  EXPECT_NE(invalid_subject(""), "");
  EXPECT_NE(invalid_subject("a..b"), "");
  EXPECT_NE(invalid_subject("a."), "");
  EXPECT_NE(invalid_subject("a.*"), "");
  EXPECT_NE(invalid_subject("a.>"), "");
  EXPECT_NE(invalid_subject("a b"), "");
}

TEST(NatsDurable, DerivedFromTheJob) {
  EXPECT_EQ(default_durable("orders"), "megasync-orders");
  EXPECT_EQ(default_durable("a.b*c>d e/f"), "megasync-a_b_c_d_e_f");
}

TEST(NatsServers, DisplayedWithoutCredentials) {
  EXPECT_EQ(display_servers({"nats://u:secret@h:4222", "nats://h2:4223"}),
            "nats://h:4222, nats://h2:4223");
  EXPECT_EQ(display_servers({"tok@h:1"}), "h:1");
}

TEST(NatsMessage, IdFromHeaderElseStreamSequence) {
  ASSERT_EQ(nats_Open(-1), NATS_OK);  // what connecting does first
  natsMsg* msg = nullptr;
  const std::string payload("\0\x01\xff bin", 7);
  ASSERT_EQ(
      natsMsg_Create(&msg, "orders.eu", nullptr, payload.data(), static_cast<int>(payload.size())),
      NATS_OK);
  ASSERT_EQ(natsMsgHeader_Add(msg, "X-Trace", "t1"), NATS_OK);
  ASSERT_EQ(natsMsgHeader_Add(msg, "Content-Type", "application/octet-stream"), NATS_OK);
  Message plain = message_of(msg, "ORDERS", 42, 1700000000123456789);
  EXPECT_EQ(plain.topic, "orders.eu");
  EXPECT_EQ(plain.id, "ORDERS:42");
  EXPECT_EQ(plain.payload, payload);
  ASSERT_NE(plain.header("X-Trace"), nullptr);
  EXPECT_EQ(*plain.header("X-Trace"), "t1");
  EXPECT_EQ(plain.content_type, "application/octet-stream");
  EXPECT_EQ(plain.timestamp_ms, 1700000000123);

  ASSERT_EQ(natsMsgHeader_Set(msg, "Nats-Msg-Id", "order-7"), NATS_OK);
  Message with_id = message_of(msg, "ORDERS", 43, 0);
  EXPECT_EQ(with_id.id, "order-7");
  EXPECT_FALSE(with_id.timestamp_ms.has_value());
  natsMsg_Destroy(msg);
}

}  // namespace
}  // namespace megasync::connectors::nats
