#include "core/message.h"

#include <gtest/gtest.h>

namespace megasync {
namespace {

Message sample() {
  Message m;
  m.topic = "orders.eu/paid";
  m.id = "m-1";
  m.key = "customer-7";
  m.payload = std::string("\0binary\xff", 8);
  m.headers = {{"trace", "abc"}, {"Trace", "other"}};
  m.timestamp_ms = 1'764'000'000'123;
  m.content_type = "application/json";
  return m;
}

TEST(MessageTest, RoundTripsThroughAChange) {
  const Message m = sample();
  const Change change = to_change(m, "p");
  EXPECT_EQ(change.collection, "orders.eu/paid");
  ASSERT_EQ(change.key.size(), 1u);
  EXPECT_EQ(std::get<std::string>(change.key.front()), "m-1");
  EXPECT_EQ(change.position, "p");
  const Message back = to_message(change);
  EXPECT_EQ(back.topic, m.topic);
  EXPECT_EQ(back.id, m.id);
  EXPECT_EQ(back.key, m.key);
  EXPECT_EQ(back.payload, m.payload);
  EXPECT_EQ(back.timestamp_ms, m.timestamp_ms);
  EXPECT_EQ(back.content_type, m.content_type);
  // Headers come back by name (in name order); both spellings are kept.
  ASSERT_EQ(back.headers.size(), 2u);
  ASSERT_NE(back.header("trace"), nullptr);
  EXPECT_EQ(*back.header("trace"), "abc");
  EXPECT_EQ(*back.header("Trace"), "other");
}

TEST(MessageTest, AbsentKeyAndTimestampStayAbsent) {
  Message m;
  m.topic = "q";
  m.id = "1";
  const Message back = to_message(to_change(m, ""));
  EXPECT_FALSE(back.key);
  EXPECT_FALSE(back.timestamp_ms);
  EXPECT_FALSE(back.content_type);
  EXPECT_EQ(back.payload, "");
}

TEST(MessageTest, SessionPositionsOfALaterSessionOrderAfter) {
  const std::uint64_t first = new_session();
  const std::uint64_t second = new_session();
  EXPECT_LT(first, second);
  const Position old_checkpoint = session_position(first, 900'000);
  const Position new_start = session_position(second, 1);
  EXPECT_LT(old_checkpoint, new_start);
  EXPECT_LT(session_position(second, 9), session_position(second, 10));
  auto parsed = parse_session_position(new_start);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->session, second);
  EXPECT_EQ(parsed->sequence, 1u);
  EXPECT_FALSE(parse_session_position("12"));
  EXPECT_FALSE(parse_session_position("1:2x"));
}

TEST(MessageTest, TemplatesRenderPlaceholders) {
  const Message m = sample();
  auto t = MessageTemplate::parse("orders-{topic.1}.{key}/{header.trace}/{id}/{{x}}");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->render(m), "orders-eu.customer-7/abc/m-1/{x}");
  EXPECT_FALSE(t->fixed());
  auto whole = MessageTemplate::parse("copy.{topic}.{topic.9}{header.none}");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->render(m), "copy.orders.eu/paid.");
  auto fixed = MessageTemplate::parse("audit");
  ASSERT_TRUE(fixed);
  EXPECT_TRUE(fixed->fixed());
  EXPECT_EQ(fixed->render(m), "audit");
}

TEST(MessageTest, BadTemplatesNameTheProblem) {
  for (const char* text : {"a-{routing_key}", "a-{topic.x}", "a-{key", "a}b", "{header.}"}) {
    auto t = MessageTemplate::parse(text);
    ASSERT_FALSE(t) << text;
    EXPECT_EQ(t.error().code(), ErrorCode::kInvalidConfig);
    EXPECT_NE(t.error().message().find(text), std::string::npos) << t.error().message();
  }
  EXPECT_NE(MessageTemplate::parse("{routing_key}").error().message().find("{header.NAME}"),
            std::string::npos);
}

}  // namespace
}  // namespace megasync
