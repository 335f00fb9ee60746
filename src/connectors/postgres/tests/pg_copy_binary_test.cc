// The binary COPY encoder, byte for byte against the formats of PostgreSQL's
// receive functions (numeric_recv, timestamp_recv, ...). The e2e snapshot
// tests (tests/e2e/test_postgres_snapshot.py) check that a real server reads
// them back as the same values.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "connectors/postgres/copy_binary.h"

namespace megasync::connectors::postgres {
namespace {

std::string be(std::uint64_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) {
    out += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  return out;
}

// One row of one column of `oid`, as bytes after the row's field count; nullopt
// when the encoder refuses the value.
std::optional<std::string> field(Oid oid, const Value& value, bool is_enum = false) {
  std::optional<BinaryRowEncoder> encoder =
      BinaryRowEncoder::make({TargetType{.oid = oid, .is_enum = is_enum}});
  EXPECT_TRUE(encoder.has_value());
  if (!encoder) {
    return std::nullopt;
  }
  std::string out = "kept";
  if (!encoder->append({&value}, out)) {
    EXPECT_EQ(out, "kept");  // a refused row leaves nothing behind
    return std::nullopt;
  }
  EXPECT_EQ(out.substr(0, 6), "kept" + be(1, 2));
  return out.substr(6);
}

std::string numeric(std::uint16_t ndigits, std::int16_t weight, std::uint16_t sign,
                    std::uint16_t dscale, const std::vector<std::uint16_t>& digits) {
  std::string out = be(8 + 2 * digits.size(), 4) + be(ndigits, 2) +
                    be(static_cast<std::uint16_t>(weight), 2) + be(sign, 2) + be(dscale, 2);
  for (std::uint16_t d : digits) {
    out += be(d, 2);
  }
  return out;
}

TEST(PgCopyBinary, HeaderAndTrailer) {
  std::string out;
  BinaryRowEncoder::append_header(out);
  EXPECT_EQ(out, std::string("PGCOPY\n\377\r\n\0", 11) + be(0, 4) + be(0, 4));
  out.clear();
  BinaryRowEncoder::append_trailer(out);
  EXPECT_EQ(out, "\xff\xff");
}

TEST(PgCopyBinary, IntegersFloatsBooleansAndNull) {
  EXPECT_EQ(field(type_oid::kInt2, Value(std::int64_t{-2})), be(2, 4) + "\xff\xfe");
  EXPECT_EQ(field(type_oid::kInt4, Value(std::int64_t{258})), be(4, 4) + be(258, 4));
  EXPECT_EQ(field(type_oid::kInt8, Value(std::numeric_limits<std::int64_t>::min())),
            be(8, 4) + be(0x8000000000000000ULL, 8));
  EXPECT_EQ(field(type_oid::kInt2, Value(std::int64_t{40000})), std::nullopt);  // the server says
  EXPECT_EQ(field(type_oid::kInt4, Value(std::string("42"))), std::nullopt);
  EXPECT_EQ(field(type_oid::kFloat8, Value(1.5)), be(8, 4) + be(0x3FF8000000000000ULL, 8));
  EXPECT_EQ(field(type_oid::kFloat4, Value(1.5)), be(4, 4) + be(0x3FC00000, 4));
  EXPECT_EQ(field(type_oid::kFloat4, Value(1e300)), std::nullopt);
  EXPECT_EQ(field(type_oid::kBool, Value(true)), be(1, 4) + "\x01");
  EXPECT_EQ(field(type_oid::kBool, Value(std::int64_t{1})), std::nullopt);
  EXPECT_EQ(field(type_oid::kInt8, Value()), "\xff\xff\xff\xff");
}

TEST(PgCopyBinary, NumericInBase10000) {
  EXPECT_EQ(field(type_oid::kNumeric, Value(std::string("1234.56"))),
            numeric(2, 0, 0, 2, {1234, 5600}));
  EXPECT_EQ(field(type_oid::kNumeric, Value(std::string("-12345"))),
            numeric(2, 1, 0x4000, 0, {1, 2345}));
  EXPECT_EQ(field(type_oid::kNumeric, Value(std::string("0.0001"))), numeric(1, -1, 0, 4, {1}));
  EXPECT_EQ(field(type_oid::kNumeric, Value(std::string("-0.000000000000000000001"))),
            numeric(1, -6, 0x4000, 21, {1000}));
  EXPECT_EQ(field(type_oid::kNumeric, Value(std::string("100000000"))), numeric(1, 2, 0, 0, {1}));
  EXPECT_EQ(field(type_oid::kNumeric, Value(std::string("2.50"))), numeric(2, 0, 0, 2, {2, 5000}));
  EXPECT_EQ(field(type_oid::kNumeric, Value(std::string("-0.00"))), numeric(0, 0, 0, 2, {}));
  EXPECT_EQ(field(type_oid::kNumeric, Value(std::int64_t{-7})), numeric(1, 0, 0x4000, 0, {7}));
  for (const char* refused : {"NaN", "Infinity", "1e5", "", ".", "1.", "--1", "1,5"}) {
    EXPECT_EQ(field(type_oid::kNumeric, Value(std::string(refused))), std::nullopt) << refused;
  }
}

TEST(PgCopyBinary, DatesAndTimesFromTheirIsoForms) {
  // Days and microseconds since 2000-01-01 (UTC for timestamptz).
  EXPECT_EQ(field(type_oid::kDate, Value(std::string("2000-01-02"))), be(4, 4) + be(1, 4));
  EXPECT_EQ(field(type_oid::kDate, Value(std::string("1999-12-31"))), be(4, 4) + be(0xFFFFFFFF, 4));
  EXPECT_EQ(field(type_oid::kDate, Value(std::string("infinity"))), be(4, 4) + be(0x7FFFFFFF, 4));
  EXPECT_EQ(field(type_oid::kTimestamp, Value(std::string("2000-01-01T00:00:01.5"))),
            be(8, 4) + be(1'500'000, 8));
  EXPECT_EQ(field(type_oid::kTimestampTz, Value(std::string("2000-01-01T02:00:00+02:00"))),
            be(8, 4) + be(0, 8));
  EXPECT_EQ(field(type_oid::kTimestampTz, Value(std::string("2000-01-01T00:00:00.000001Z"))),
            be(8, 4) + be(1, 8));
  EXPECT_EQ(field(type_oid::kTimestampTz, Value(std::string("-infinity"))),
            be(8, 4) + be(0x8000000000000000ULL, 8));
  EXPECT_EQ(field(type_oid::kTime, Value(std::string("24:00:00"))),
            be(8, 4) + be(86'400'000'000ULL, 8));
  for (const char* refused :
       {"2024-02-30", "0000-01-01", "-0043-03-15", "2024-1-01", "2024-01-01T24:00:00"}) {
    EXPECT_EQ(field(type_oid::kDate, Value(std::string(refused))), std::nullopt) << refused;
  }
  // A zone where none belongs, none where one does, seconds rounded by the server.
  EXPECT_EQ(field(type_oid::kTimestamp, Value(std::string("2000-01-01T00:00:00Z"))), std::nullopt);
  EXPECT_EQ(field(type_oid::kTimestampTz, Value(std::string("2000-01-01T00:00:00"))), std::nullopt);
  EXPECT_EQ(field(type_oid::kTimestampTz, Value(std::string("2000-01-01T00:00:00.1234567Z"))),
            std::nullopt);
}

TEST(PgCopyBinary, TextUuidJsonbByteaAndEnums) {
  EXPECT_EQ(field(type_oid::kVarchar, Value(std::string("tab\there"))), be(8, 4) + "tab\there");
  EXPECT_EQ(field(type_oid::kJsonb, Value(std::string("{}"))), be(3, 4) + "\x01{}");
  EXPECT_EQ(field(type_oid::kBytea, Value(Bytes{std::string("\0\xff", 2)})),
            be(2, 4) + std::string("\0\xff", 2));
  EXPECT_EQ(field(type_oid::kBytea, Value(std::string("\\x00"))), std::nullopt);
  EXPECT_EQ(field(type_oid::kUuid, Value(std::string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))),
            be(16, 4) + "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11");
  EXPECT_EQ(field(type_oid::kUuid, Value(std::string("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"))),
            std::nullopt);
  EXPECT_EQ(field(12345, Value(std::string("happy")), /*is_enum=*/true), be(5, 4) + "happy");
}

TEST(PgCopyBinary, TablesWithATypeWithoutBinaryFormAreText) {
  EXPECT_FALSE(BinaryRowEncoder::make({{.oid = type_oid::kInt4}, {.oid = type_oid::kInterval}}));
  EXPECT_FALSE(BinaryRowEncoder::make({{.oid = type_oid::kInt4Array}}));
  EXPECT_FALSE(BinaryRowEncoder::make({}));
  std::optional<BinaryRowEncoder> two =
      BinaryRowEncoder::make({{.oid = type_oid::kInt8}, {.oid = type_oid::kText}});
  ASSERT_TRUE(two);
  const Value id(std::int64_t{1});
  const Value name(std::string("x"));
  std::string out;
  ASSERT_TRUE(two->append({&id, &name}, out));
  EXPECT_EQ(out, be(2, 2) + be(8, 4) + be(1, 8) + be(1, 4) + "x");
  EXPECT_FALSE(two->append({&id}, out));  // a row of the wrong width
}

}  // namespace
}  // namespace megasync::connectors::postgres
