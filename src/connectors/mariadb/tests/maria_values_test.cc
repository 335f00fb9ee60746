// The mariadb connector's pure encoding: identifiers, literals, declared
// types, and values read back from the text protocol.
#include <gtest/gtest.h>

#include <limits>

#include "connectors/mariadb/sink.h"
#include "connectors/mariadb/values.h"

namespace megasync::connectors::mariadb {
namespace {

std::string literal(const Value& value, ColumnType type = ColumnType::kText) {
  std::string out;
  Status status = append_literal(value, type, out);
  EXPECT_TRUE(status) << (status ? "" : status.error().message());
  return out;
}

TEST(MariaQuote, IdentifiersDoubleBackticks) {
  EXPECT_EQ(quote_ident("orders"), "`orders`");
  EXPECT_EQ(quote_ident("we`ird"), "`we``ird`");
  EXPECT_EQ(qualified_name("orders", "app"), "`app`.`orders`");
  EXPECT_EQ(qualified_name("sales.orders", "app"), "`sales`.`orders`");
  EXPECT_EQ(split_name("a.b", "app"), std::make_pair(std::string("a"), std::string("b")));
}

TEST(MariaLiteral, EscapesText) {
  EXPECT_EQ(literal(std::string("it's")), "'it\\'s'");
  EXPECT_EQ(literal(std::string("a\\b\"c")), "'a\\\\b\\\"c'");
  EXPECT_EQ(literal(std::string("l1\nl2\r\x1a")), "'l1\\nl2\\r\\Z'");
  EXPECT_EQ(literal(std::string("nul\0byte", 8)), "'nul\\0byte'");
  EXPECT_EQ(literal(std::string("tab\there ünï")), "'tab\there ünï'");
}

TEST(MariaLiteral, NullBooleansNumbersAndBytes) {
  EXPECT_EQ(literal(Value()), "NULL");
  EXPECT_EQ(literal(true, ColumnType::kBoolean), "1");
  EXPECT_EQ(literal(false, ColumnType::kBoolean), "0");
  EXPECT_EQ(literal(std::int64_t{-9223372036854775807 - 1}), "-9223372036854775808");
  EXPECT_EQ(literal(0.1, ColumnType::kReal), "0.1");
  EXPECT_EQ(literal(1e300, ColumnType::kReal), "1e+300");
  EXPECT_EQ(literal(0.30000000000000004, ColumnType::kReal), "0.30000000000000004");
  EXPECT_EQ(literal(Bytes{std::string("\x00\xff'", 3)}, ColumnType::kBytes), "X'00FF27'");
  EXPECT_EQ(literal(Bytes{}, ColumnType::kBytes), "X''");
  std::string out;
  EXPECT_FALSE(append_literal(std::numeric_limits<double>::infinity(), ColumnType::kReal, out));
}

TEST(MariaLiteral, TimestampsBecomeDatetimeText) {
  EXPECT_EQ(literal(std::string("2024-01-02T03:04:05.123456Z"), ColumnType::kTimestampTz),
            "'2024-01-02 03:04:05.123456'");
  EXPECT_EQ(literal(std::string("2024-01-02T03:04:05"), ColumnType::kTimestamp),
            "'2024-01-02 03:04:05'");
  EXPECT_EQ(literal(std::string("2024-01-02 03:04:05+00:00"), ColumnType::kTimestampTz),
            "'2024-01-02 03:04:05'");
  EXPECT_EQ(literal(std::string("2024-01-02"), ColumnType::kDate), "'2024-01-02'");
  // Text columns keep the 'T'.
  EXPECT_EQ(literal(std::string("2024-01-02T03:04:05Z"), ColumnType::kText),
            "'2024-01-02T03:04:05Z'");
  EXPECT_EQ(to_datetime_text("not a time"), "not a time");
}

TEST(MariaDeclaredType, KeysGetLengths) {
  EXPECT_EQ(declared_type(ColumnType::kInteger, false), "BIGINT");
  EXPECT_EQ(declared_type(ColumnType::kText, false), "LONGTEXT");
  EXPECT_EQ(declared_type(ColumnType::kText, true), "VARCHAR(255)");
  EXPECT_EQ(declared_type(ColumnType::kBytes, false), "LONGBLOB");
  EXPECT_EQ(declared_type(ColumnType::kBytes, true), "VARBINARY(255)");
  EXPECT_EQ(declared_type(ColumnType::kNumeric, false), "LONGTEXT");
  EXPECT_EQ(declared_type(ColumnType::kTimestampTz, false), "DATETIME(6)");
  EXPECT_EQ(declared_type(ColumnType::kBoolean, false), "BOOLEAN");
}

TEST(MariaFieldValue, ByFieldType) {
  EXPECT_EQ(field_value(MYSQL_TYPE_LONGLONG, 63, ColumnType::kInteger, "-42"),
            Value(std::int64_t{-42}));
  EXPECT_EQ(field_value(MYSQL_TYPE_LONGLONG, 63, ColumnType::kInteger, "18446744073709551615"),
            Value(std::string("18446744073709551615")));
  EXPECT_EQ(field_value(MYSQL_TYPE_TINY, 63, ColumnType::kBoolean, "1"), Value(true));
  EXPECT_EQ(field_value(MYSQL_TYPE_TINY, 63, ColumnType::kInteger, "1"), Value(std::int64_t{1}));
  EXPECT_EQ(field_value(MYSQL_TYPE_DOUBLE, 63, ColumnType::kReal, "0.1"), Value(0.1));
  EXPECT_EQ(field_value(MYSQL_TYPE_NEWDECIMAL, 63, ColumnType::kNumeric, "1.50"),
            Value(std::string("1.50")));
  EXPECT_EQ(field_value(MYSQL_TYPE_BLOB, 63, ColumnType::kBytes, std::string_view("a\0b", 3)),
            Value(Bytes{std::string("a\0b", 3)}));
  EXPECT_EQ(field_value(MYSQL_TYPE_BLOB, 45, ColumnType::kText, "text"),
            Value(std::string("text")));
  EXPECT_EQ(field_value(MYSQL_TYPE_DATETIME, 63, ColumnType::kTimestamp, "2024-01-02 03:04:05"),
            Value(std::string("2024-01-02 03:04:05")));
  EXPECT_EQ(
      field_value(MYSQL_TYPE_DATETIME, 63, ColumnType::kTimestampTz, "2024-01-02 03:04:05.500000"),
      Value(std::string("2024-01-02 03:04:05.500000Z")));
}

}  // namespace
}  // namespace megasync::connectors::mariadb
