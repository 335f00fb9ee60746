#include <gtest/gtest.h>

#include <cmath>

#include "connectors/postgres/text_format.h"
#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

Value convert(Oid type, std::string_view text) {
  auto value = text_to_value(type, text);
  EXPECT_TRUE(value) << text << ": " << value.error().message();
  return value ? *value : Value();
}

std::string error_of(Oid type, std::string_view text) {
  auto value = text_to_value(type, text);
  EXPECT_FALSE(value) << text;
  if (value) {
    return "";
  }
  EXPECT_EQ(value.error().code(), ErrorCode::kPermanent);
  return value.error().message();
}

Value str(std::string s) {
  return Value(std::move(s));
}

TEST(PgTypesTest, MapsOids) {
  EXPECT_EQ(column_type(Oid{16}), ColumnType::kBoolean);
  EXPECT_EQ(column_type(Oid{17}), ColumnType::kBytes);
  for (Oid oid : {20, 21, 23, 26}) {
    EXPECT_EQ(column_type(oid), ColumnType::kInteger) << oid;
  }
  for (Oid oid : {25, 1042, 1043}) {
    EXPECT_EQ(column_type(oid), ColumnType::kText) << oid;
  }
  EXPECT_EQ(column_type(Oid{114}), ColumnType::kJson);
  EXPECT_EQ(column_type(Oid{3802}), ColumnType::kJson);
  EXPECT_EQ(column_type(Oid{700}), ColumnType::kReal);
  EXPECT_EQ(column_type(Oid{701}), ColumnType::kReal);
  EXPECT_EQ(column_type(Oid{1082}), ColumnType::kDate);
  EXPECT_EQ(column_type(Oid{1083}), ColumnType::kTime);
  EXPECT_EQ(column_type(Oid{1114}), ColumnType::kTimestamp);
  EXPECT_EQ(column_type(Oid{1184}), ColumnType::kTimestampTz);
  EXPECT_EQ(column_type(Oid{1186}), ColumnType::kInterval);
  EXPECT_EQ(column_type(Oid{1700}), ColumnType::kNumeric);
  EXPECT_EQ(column_type(Oid{2950}), ColumnType::kUuid);
  for (Oid oid : {1007, 1009, 1000, 1016, 1231, 1185, 199, 3807, 2951}) {
    EXPECT_EQ(column_type(oid), ColumnType::kArray) << oid;
  }
  EXPECT_EQ(array_element_type(1007), 23u);
  EXPECT_EQ(array_element_type(1009), 25u);
  EXPECT_EQ(array_element_type(23), 0u);
  EXPECT_EQ(column_type(Oid{16500}), ColumnType::kText);  // an enum or other user type
  EXPECT_TRUE(known_type(23));
  EXPECT_TRUE(known_type(1007));
  EXPECT_FALSE(known_type(16500));
}

TEST(PgTypesTest, FormatsTypes) {
  EXPECT_EQ(format_type(23, -1), "integer");
  EXPECT_EQ(format_type(1043, 24), "character varying(20)");
  EXPECT_EQ(format_type(1042, 5), "character(1)");
  EXPECT_EQ(format_type(1700, (10 << 16 | 2) + 4), "numeric(10,2)");
  EXPECT_EQ(format_type(1184, 6), "timestamp(6) with time zone");
  EXPECT_EQ(format_type(1083, 0), "time(0) without time zone");
  EXPECT_EQ(format_type(1009, -1), "text[]");
  EXPECT_EQ(format_type(1015, 14), "character varying(10)[]");
  EXPECT_EQ(format_type(16500, -1), "");
}

TEST(PgTypesTest, MapsDeclaredNames) {
  struct Case {
    const char* declared;
    ColumnType type;
  };
  for (const auto& c : std::vector<Case>{
           {"integer", ColumnType::kInteger},
           {"INT4", ColumnType::kInteger},
           {"bigint", ColumnType::kInteger},
           {"smallint", ColumnType::kInteger},
           {"bigserial", ColumnType::kInteger},
           {"pg_catalog.int8", ColumnType::kInteger},
           {"character varying(20)", ColumnType::kText},
           {"varchar", ColumnType::kText},
           {"character(3)", ColumnType::kText},
           {"text", ColumnType::kText},
           {"timestamp with time zone", ColumnType::kTimestampTz},
           {"timestamp(3) with time zone", ColumnType::kTimestampTz},
           {"timestamptz", ColumnType::kTimestampTz},
           {"timestamp without time zone", ColumnType::kTimestamp},
           {"Timestamp (0)  Without   Time Zone", ColumnType::kTimestamp},
           {"time with time zone", ColumnType::kTime},
           {"time", ColumnType::kTime},
           {"date", ColumnType::kDate},
           {"interval", ColumnType::kInterval},
           {"interval day to second", ColumnType::kInterval},
           {"numeric(10,2)", ColumnType::kNumeric},
           {"decimal", ColumnType::kNumeric},
           {"real", ColumnType::kReal},
           {"double precision", ColumnType::kReal},
           {"float(24)", ColumnType::kReal},
           {"boolean", ColumnType::kBoolean},
           {"bytea", ColumnType::kBytes},
           {"uuid", ColumnType::kUuid},
           {"json", ColumnType::kJson},
           {"jsonb", ColumnType::kJson},
           {"text[]", ColumnType::kArray},
           {"integer[3]", ColumnType::kArray},
           {"character varying(5)[]", ColumnType::kArray},
           {"integer ARRAY", ColumnType::kArray},
           {"_int4", ColumnType::kArray},
           {"mood", ColumnType::kText},
           {"USER-DEFINED", ColumnType::kText},
       }) {
    EXPECT_EQ(column_type(std::string_view(c.declared)), c.type) << c.declared;
  }
}

TEST(PgTypesTest, DeclaredTypesRoundTrip) {
  for (auto type : {ColumnType::kInteger, ColumnType::kReal, ColumnType::kNumeric,
                    ColumnType::kText, ColumnType::kBoolean, ColumnType::kBytes, ColumnType::kDate,
                    ColumnType::kTime, ColumnType::kTimestamp, ColumnType::kTimestampTz,
                    ColumnType::kInterval, ColumnType::kUuid, ColumnType::kJson}) {
    EXPECT_EQ(column_type(std::string_view(declared_type(type))), type) << to_string(type);
  }
  EXPECT_EQ(declared_type(ColumnType::kArray), "jsonb");
  EXPECT_EQ(declared_type(ColumnType::kUnknown), "text");
  EXPECT_EQ(declared_type(ColumnType::kTimestampTz), "timestamptz");
}

TEST(PgTypesTest, ConvertsIntegers) {
  EXPECT_EQ(convert(23, "42"), Value(std::int64_t{42}));
  EXPECT_EQ(convert(21, "-32768"), Value(std::int64_t{-32768}));
  EXPECT_EQ(convert(20, "-9223372036854775808"), Value(INT64_MIN));
  EXPECT_EQ(convert(20, "9223372036854775807"), Value(INT64_MAX));
  EXPECT_EQ(convert(26, "4294967295"), Value(std::int64_t{4294967295}));
  EXPECT_NE(error_of(20, "9223372036854775808").find("invalid integer"), std::string::npos);
  error_of(23, "");
  error_of(23, "1.5");
  error_of(23, " 1");
  error_of(23, "+1");
}

TEST(PgTypesTest, ConvertsFloats) {
  EXPECT_EQ(convert(701, "1.5"), Value(1.5));
  EXPECT_EQ(convert(701, "-0.25"), Value(-0.25));
  EXPECT_EQ(convert(701, "1e+300"), Value(1e300));
  EXPECT_EQ(convert(701, "5e-324"), Value(5e-324));  // subnormal
  EXPECT_EQ(convert(700, "3.4028235e+38"), Value(3.4028235e+38));
  EXPECT_EQ(convert(701, "Infinity"), Value(INFINITY));
  EXPECT_EQ(convert(701, "-Infinity"), Value(-INFINITY));
  auto nan = convert(701, "NaN");
  ASSERT_TRUE(std::holds_alternative<double>(nan));
  EXPECT_TRUE(std::isnan(std::get<double>(nan)));
  error_of(701, "nan");
  error_of(701, "1,5");
  error_of(701, "");
}

TEST(PgTypesTest, ConvertsBooleans) {
  EXPECT_EQ(convert(16, "t"), Value(true));
  EXPECT_EQ(convert(16, "f"), Value(false));
  EXPECT_NE(error_of(16, "yes").find("expected t or f"), std::string::npos);
}

TEST(PgTypesTest, ConvertsBytea) {
  EXPECT_EQ(convert(17, "\\x"), Value(Bytes{""}));
  EXPECT_EQ(convert(17, "\\x00ff0A"), Value(Bytes{std::string("\x00\xff\x0a", 3)}));
  // bytea_output = 'escape'
  EXPECT_EQ(convert(17, "a\\000\\\\b\\377"), Value(Bytes{std::string("a\0\\b\xff", 5)}));
  error_of(17, "\\x0");
  error_of(17, "\\xzz");
  error_of(17, "\\400");
  error_of(17, "\\12");
  error_of(17, "a\\");
}

TEST(PgTypesTest, KeepsTextTypesAsText) {
  EXPECT_EQ(convert(1700, "12345678901234567890.000000001"), str("12345678901234567890.000000001"));
  EXPECT_EQ(convert(1700, "NaN"), str("NaN"));
  EXPECT_EQ(convert(25, ""), str(""));
  EXPECT_EQ(convert(1043, "héllo"), str("héllo"));
  EXPECT_EQ(convert(1042, "ab  "), str("ab  "));
  EXPECT_EQ(convert(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
  EXPECT_EQ(convert(114, R"({"a": [1, 2]})"), str(R"({"a": [1, 2]})"));
  EXPECT_EQ(convert(3802, R"({"a": [1, 2]})"), str(R"({"a": [1, 2]})"));
  EXPECT_EQ(convert(1083, "13:14:15.5"), str("13:14:15.5"));
  EXPECT_EQ(convert(1186, "1 year 2 mons 3 days 04:05:06"), str("1 year 2 mons 3 days 04:05:06"));
  EXPECT_EQ(convert(16500, "happy"), str("happy"));
}

TEST(PgTypesTest, NormalizesTimestampTzToUtc) {
  EXPECT_EQ(convert(1184, "2024-01-02 05:04:05.123456+02"), str("2024-01-02T03:04:05.123456Z"));
  EXPECT_EQ(convert(1184, "2024-01-02 03:04:05+00"), str("2024-01-02T03:04:05Z"));
  EXPECT_EQ(convert(1184, "2024-01-02 08:34:05.5+05:30"), str("2024-01-02T03:04:05.5Z"));
  EXPECT_EQ(convert(1184, "2024-01-01 20:00:00-09:30"), str("2024-01-02T05:30:00Z"));
  // Across a year boundary and a leap day.
  EXPECT_EQ(convert(1184, "2024-01-01 01:00:00+02"), str("2023-12-31T23:00:00Z"));
  EXPECT_EQ(convert(1184, "2024-02-29 23:30:00-01"), str("2024-03-01T00:30:00Z"));
  // Local mean time offsets have seconds.
  EXPECT_EQ(convert(1184, "1890-01-01 00:00:00+00:53:28"), str("1889-12-31T23:06:32Z"));
  // Trailing zeros of a fraction are dropped (PostgreSQL prints none anyway).
  EXPECT_EQ(convert(1184, "2024-01-02 03:04:05.120+00"), str("2024-01-02T03:04:05.12Z"));
  // Years below 1000 keep four digits; BC years become astronomical (1 BC = 0000).
  EXPECT_EQ(convert(1184, "0999-06-01 00:00:00+00"), str("0999-06-01T00:00:00Z"));
  EXPECT_EQ(convert(1184, "0001-01-01 00:30:00+01 BC"), str("-0001-12-31T23:30:00Z"));
  EXPECT_EQ(convert(1184, "0044-03-15 12:00:00+00 BC"), str("-0043-03-15T12:00:00Z"));
  EXPECT_EQ(convert(1184, "12345-01-01 00:00:00+00"), str("12345-01-01T00:00:00Z"));
  EXPECT_EQ(convert(1184, "infinity"), str("infinity"));
  EXPECT_EQ(convert(1184, "-infinity"), str("-infinity"));
  for (const char* bad :
       {"2024-01-02T03:04:05Z", "01/02/2024 03:04:05 PST", "2024-01-02 03:04:05",
        "2024-13-01 00:00:00+00", "2023-02-29 00:00:00+00", "2024-01-02 24:00:00+00",
        "2024-01-02 03:04:05.1234567+00", "2024-01-02 03:04:05+0", "", "0000-01-01 00:00:00+00 BC",
        "2024-01-02 03:04:05+02 AD"}) {
    EXPECT_NE(error_of(1184, bad).find("DateStyle ISO"), std::string::npos) << bad;
  }
}

TEST(PgTypesTest, FormatsTimestampsAndDates) {
  EXPECT_EQ(convert(1114, "2024-01-02 03:04:05.123"), str("2024-01-02T03:04:05.123"));
  EXPECT_EQ(convert(1114, "0044-03-15 12:00:00 BC"), str("-0043-03-15T12:00:00"));
  EXPECT_EQ(convert(1114, "infinity"), str("infinity"));
  error_of(1114, "2024-01-02 03:04:05+00");
  EXPECT_EQ(convert(1082, "2024-02-29"), str("2024-02-29"));
  EXPECT_EQ(convert(1082, "0001-01-01 BC"), str("0000-01-01"));
  EXPECT_EQ(convert(1082, "-infinity"), str("-infinity"));
  EXPECT_EQ(convert(1082, "5874897-12-31"), str("5874897-12-31"));  // the last date
  error_of(1082, "99999999-01-01");
  error_of(1082, "2023-02-29");
  error_of(1082, "02-29-2024");
}

TEST(PgTypesTest, WritesBcYearsBackInPostgresForm) {
  EXPECT_EQ(iso_to_pg_input("-0043-03-15"), "0044-03-15 BC");
  EXPECT_EQ(iso_to_pg_input("0000-01-01T00:00:00Z"), "0001-01-01T00:00:00Z BC");
  EXPECT_EQ(iso_to_pg_input("-0043-03-15T12:00:00"), "0044-03-15T12:00:00 BC");
  EXPECT_EQ(iso_to_pg_input("-4712-01-01"), "4713-01-01 BC");  // the first date
  EXPECT_EQ(iso_to_pg_input("2024-01-02T03:04:05Z"), "2024-01-02T03:04:05Z");
  EXPECT_EQ(iso_to_pg_input("12345-06-07"), "12345-06-07");
  EXPECT_EQ(iso_to_pg_input("infinity"), "infinity");
  EXPECT_EQ(iso_to_pg_input("-infinity"), "-infinity");
  EXPECT_EQ(iso_to_pg_input("not a date"), "not a date");
}

TEST(PgTypesTest, JsonArraysBecomeArrayLiterals) {
  EXPECT_EQ(json_to_array_literal("[1,null,-3]"), "{1,NULL,-3}");
  EXPECT_EQ(json_to_array_literal("[]"), "{}");
  EXPECT_EQ(json_to_array_literal(R"(["a b","NULL",null,"q\"uote","back\\slash",""])"),
            R"({"a b","NULL",NULL,"q\"uote","back\\slash",""})");
  EXPECT_EQ(json_to_array_literal("[[1,2],[3,4]]"), "{{1,2},{3,4}}");
  EXPECT_EQ(json_to_array_literal(R"([true,false,1.5,{"a":1}])"), R"({t,f,1.5,"{\"a\":1}"})");
  EXPECT_EQ(json_to_array_literal("{1,2}"), std::nullopt);
  EXPECT_EQ(json_to_array_literal(R"({"a":1})"), std::nullopt);
}

TEST(PgTypesTest, TargetColumnsKeepPostgresTypes) {
  auto declare = [](std::string source_type, ColumnType type, std::string_view system) {
    Column column;
    column.name = "c";
    column.type = type;
    column.source_type = std::move(source_type);
    return column_declaration(column, system);
  };
  EXPECT_EQ(declare("smallint", ColumnType::kInteger, "postgres"), "smallint");
  EXPECT_EQ(declare("numeric(40,10)", ColumnType::kNumeric, "postgres"), "numeric(40,10)");
  EXPECT_EQ(declare("character(5)", ColumnType::kText, "postgres"), "character(5)");
  EXPECT_EQ(declare("character varying(20)[]", ColumnType::kArray, "postgres"),
            "character varying(20)[]");
  EXPECT_EQ(declare("json", ColumnType::kJson, "postgres"), "json");
  EXPECT_EQ(declare("time(3) with time zone", ColumnType::kTime, "postgres"),
            "time(3) with time zone");
  EXPECT_EQ(declare("interval day to second", ColumnType::kInterval, "postgres"),
            "interval day to second");
  // Enums and their arrays, other systems' names, retyped columns: mapped.
  EXPECT_EQ(declare("mood", ColumnType::kText, "postgres"), "text");
  EXPECT_EQ(declare("sales.mood[]", ColumnType::kArray, "postgres"), "jsonb");
  EXPECT_EQ(declare("INTEGER", ColumnType::kInteger, "sqlite"), "bigint");
  EXPECT_EQ(declare("integer", ColumnType::kInteger, ""), "bigint");
  EXPECT_EQ(declare("timestamp without time zone", ColumnType::kTimestampTz, "postgres"),
            "timestamptz");
}

TEST(PgTypesTest, ReadsArraysWhateverTheyAreStoredAs) {
  auto read = [](Oid type, ColumnType expected, std::string_view text) {
    auto value = read_value(type, expected, text);
    EXPECT_TRUE(value) << text;
    return value ? *value : Value();
  };
  EXPECT_EQ(read(16384, ColumnType::kArray, "{happy,\"it's\"}"), str(R"(["happy","it's"])"));
  EXPECT_EQ(read(3802, ColumnType::kArray, R"([1, null, "a"])"), str(R"([1,null,"a"])"));
  EXPECT_EQ(read(3802, ColumnType::kJson, R"([1, null])"), str(R"([1, null])"));
  EXPECT_EQ(read(1007, ColumnType::kArray, "{1,NULL}"), str("[1,null]"));
  EXPECT_EQ(read(16384, ColumnType::kText, "happy"), str("happy"));
}

TEST(PgTypesTest, ConvertsArraysToJson) {
  EXPECT_EQ(convert(1007, "{1,2,NULL,-3}"), str("[1,2,null,-3]"));
  EXPECT_EQ(convert(1007, "{}"), str("[]"));
  EXPECT_EQ(convert(1007, "{{1,2},{3,4}}"), str("[[1,2],[3,4]]"));
  EXPECT_EQ(convert(1007, "[0:1]={5,6}"), str("[5,6]"));
  EXPECT_EQ(convert(1009, R"({"a b",NULL,"NULL",null,"",plain,"q\"uote","back\\slash",{x}})"),
            str(R"(["a b",null,"NULL",null,"","plain","q\"uote","back\\slash",["x"]])"));
  EXPECT_EQ(convert(1009, R"({"{braces}","a,b"})"), str(R"(["{braces}","a,b"])"));
  EXPECT_EQ(convert(1009, "{ a , b c }"), str(R"(["a","b c"])"));
  EXPECT_EQ(convert(1000, "{t,f}"), str("[true,false]"));
  EXPECT_EQ(convert(1022, "{1.5,NaN,-Infinity}"), str(R"([1.5,"NaN","-Infinity"])"));
  EXPECT_EQ(convert(1231, "{1.50,NaN}"), str(R"(["1.50","NaN"])"));  // numeric stays exact text
  EXPECT_EQ(convert(1185, R"({"2024-01-02 05:04:05+02"})"), str(R"(["2024-01-02T03:04:05Z"])"));
  EXPECT_EQ(convert(1001, R"({"\\x0102"})"), str(R"(["\\x0102"])"));
  EXPECT_EQ(convert(3807, R"({"{\"a\": 1}"})"), str(R"(["{\"a\": 1}"])"));
  // Elements are converted with their type and errors say so.
  EXPECT_NE(error_of(1007, "{1,x}").find("invalid integer \"x\""), std::string::npos);
  for (const char* bad : {"", "1,2", "{1,2", "{1,,2}", "{\"a}", "{a\"b}", "{1}x", "{{{{{{{1}}}}}}}",
                          "{\\", "{a{b}}", "{,}"}) {
    EXPECT_NE(error_of(1009, bad).find("invalid array literal"), std::string::npos) << bad;
  }
  // Six dimensions are allowed.
  EXPECT_EQ(convert(1007, "{{{{{{1}}}}}}"), str("[[[[[[1]]]]]]"));
}

}  // namespace
}  // namespace megasync::connectors::postgres
