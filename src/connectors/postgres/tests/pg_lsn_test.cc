#include <gtest/gtest.h>

#include "connectors/postgres/lsn.h"

namespace megasync::connectors::postgres {
namespace {

TEST(PgLsnTest, ParsesAndFormatsServerText) {
  auto lsn = parse_lsn("16/B374D848");
  ASSERT_TRUE(lsn) << lsn.error().message();
  EXPECT_EQ(*lsn, 0x16B374D848u);
  EXPECT_EQ(format_lsn(*lsn), "16/B374D848");
  EXPECT_EQ(format_lsn(0), "0/0");
  EXPECT_EQ(*parse_lsn("0/0"), 0u);
  EXPECT_EQ(*parse_lsn("FFFFFFFF/FFFFFFFF"), UINT64_MAX);
  EXPECT_EQ(format_lsn(UINT64_MAX), "FFFFFFFF/FFFFFFFF");
}

TEST(PgLsnTest, AcceptsLowerCaseAndZeroPaddedHalves) {
  EXPECT_EQ(*parse_lsn("16/b374d848"), 0x16B374D848u);
  EXPECT_EQ(*parse_lsn("0/016B3748"), 0x16B3748u);  // PostgreSQL 19 prints this form
  EXPECT_EQ(*parse_lsn("00000000/016B3748"), 0x16B3748u);
}

TEST(PgLsnTest, RejectsMalformedText) {
  for (const char* text : {"", "/", "16", "16/", "/B374D848", "16/B374D848/1", "x/1", "1/g", "+1/1",
                           "-1/1", "0x1/1", "1/ 1", "123456789/1", "1/123456789"}) {
    auto lsn = parse_lsn(text);
    ASSERT_FALSE(lsn) << text;
    EXPECT_EQ(lsn.error().code(), ErrorCode::kPermanent);
    EXPECT_NE(lsn.error().message().find("invalid LSN"), std::string::npos);
  }
}

TEST(PgLsnTest, PositionIsFixedWidthHexInNumericOrder) {
  EXPECT_EQ(lsn_to_position(0x16B374D848u), "00000016B374D848");
  EXPECT_EQ(lsn_to_position(0), "0000000000000000");
  // Text order equals numeric order, across digit counts and hex letters.
  std::vector<Lsn> ordered = {0,         9,          0xA,         0xF0,      0x100,
                              0x16B3748, 0xFFFFFFFF, 0x100000000, UINT64_MAX};
  for (std::size_t i = 1; i < ordered.size(); ++i) {
    EXPECT_LT(lsn_to_position(ordered[i - 1]), lsn_to_position(ordered[i]));
  }
  for (Lsn lsn : ordered) {
    auto back = position_to_lsn(lsn_to_position(lsn));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, lsn);
  }
}

TEST(PgLsnTest, DecodesPositions) {
  EXPECT_EQ(*position_to_lsn("00000016b374d848"), 0x16B374D848u);
  EXPECT_EQ(*position_to_lsn(""), 0u);  // nothing recorded yet: from the slot's position
  for (const char* bad : {"16/B374D848", "16B374D848", "00000016B374D8480", "0000001GB374D848",
                          "-0000016B374D848", " 0000016B374D848"}) {
    auto lsn = position_to_lsn(bad);
    ASSERT_FALSE(lsn) << bad;
    EXPECT_EQ(lsn.error().code(), ErrorCode::kPermanent);
  }
}

}  // namespace
}  // namespace megasync::connectors::postgres
