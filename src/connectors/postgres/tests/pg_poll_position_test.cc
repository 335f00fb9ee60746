#include <gtest/gtest.h>

#include "connectors/postgres/poll_position.h"

namespace megasync::connectors::postgres {
namespace {

TEST(PgPollPositionTest, RoundTrips) {
  PollPosition position;
  position.at = 1'795'000'000'123'456;
  position.sequence = 7;
  position.tables["orders"] = {.cursor = "2026-01-02 03:04:05.5+00", .key = {"42"}};
  position.tables["sales.lines"] = {.cursor = "17", .key = {"a \"quoted\" \\ key", "3"}};
  position.tables["ünïcode"] = {.cursor = "1", .key = {"ключ"}};
  const Position text = encode_poll_position(position);
  Result<PollPosition> back = decode_poll_position(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, position);
  EXPECT_EQ(encode_poll_position(*back), text);
}

TEST(PgPollPositionTest, EmptyPositionIsTheStart) {
  Result<PollPosition> start = decode_poll_position("");
  ASSERT_TRUE(start);
  EXPECT_EQ(start->at, 0);
  EXPECT_EQ(start->sequence, 0);
  EXPECT_TRUE(start->tables.empty());
  EXPECT_EQ(decode_poll_position(encode_poll_position({})).value(), PollPosition{});
}

TEST(PgPollPositionTest, RejectsOtherText) {
  for (const char* text :
       {"00000016B374D848", "{", "[]", "{\"at\":1,\"n\":0}", "{\"at\":\"1\",\"n\":0,\"tables\":{}}",
        "{\"at\":1,\"n\":0,\"tables\":{\"t\":[\"1\"]}}",
        "{\"at\":1,\"n\":0,\"tables\":{\"t\":[\"1\",2]}}",
        "{\"at\":1,\"n\":0,\"tables\":{\"t\":\"1\"}}"}) {
    Result<PollPosition> position = decode_poll_position(text);
    ASSERT_FALSE(position) << text;
    EXPECT_EQ(position.error().code(), ErrorCode::kPermanent);
    EXPECT_NE(position.error().message().find("not a poll position"), std::string::npos);
  }
}

TEST(PgPollPositionTest, OrdersByTimeThenBatchNotByCursor) {
  PollPosition earlier{.at = 100, .sequence = 5};
  earlier.tables["t"] = {.cursor = "900", .key = {"1"}};
  PollPosition later{.at = 101, .sequence = 1};
  later.tables["t"] = {.cursor = "10", .key = {"1"}};  // an overlap re-read: lower cursor
  EXPECT_LT(compare_poll_positions(earlier, later), 0);
  EXPECT_GT(compare_poll_positions(later, earlier), 0);
  PollPosition next = earlier;
  next.sequence = 6;
  EXPECT_LT(compare_poll_positions(earlier, next), 0);
  EXPECT_EQ(compare_poll_positions(earlier, earlier), 0);
  EXPECT_LT(compare_poll_positions({}, earlier), 0);
}

}  // namespace
}  // namespace megasync::connectors::postgres
