#include "core/duration.h"

#include <gtest/gtest.h>

namespace megasync {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesUnitsAndCompounds) {
  EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("7d"), milliseconds(604'800'000));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration(" 10s "), milliseconds(10'000));
}

TEST(Duration, BareNumberIsSeconds) {
  // As in the specification's environment variables: SYNC_INTERVAL_DATABASE=30.
  EXPECT_EQ(parse_duration("30"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("0"), milliseconds(0));
}

TEST(Duration, RejectsGarbage) {
  for (const char* bad : {"", "s", "10 seconds", "10x", "-5s", "1h30", "ten", "1..5s", "."}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(Duration, FormatsShortestExactForm) {
  EXPECT_EQ(format_duration(milliseconds(30'000)), "30s");
  EXPECT_EQ(format_duration(milliseconds(90'000)), "1m30s");
  EXPECT_EQ(format_duration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1.5s");
}

TEST(Bytes, ParsesSizes) {
  EXPECT_EQ(parse_bytes("1024"), 1024u);
  EXPECT_EQ(parse_bytes("64MiB"), 64ull * 1024 * 1024);
  EXPECT_EQ(parse_bytes("16MB"), 16'000'000u);
  EXPECT_EQ(parse_bytes("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_bytes("512 KiB"), 512u * 1024);
  EXPECT_FALSE(parse_bytes("12 apples"));
  EXPECT_FALSE(parse_bytes("MiB"));
}

}  // namespace
}  // namespace megasync
