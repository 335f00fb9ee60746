#include <gtest/gtest.h>

#include "connectors/postgres/digest_sql.h"

namespace megasync::connectors::postgres {
namespace {

CollectionSchema orders() {
  CollectionSchema schema;
  schema.name = "sales.orders";
  schema.columns = {{.name = "id", .type = ColumnType::kInteger},
                    {.name = "Note", .type = ColumnType::kText},
                    {.name = "amount", .type = ColumnType::kNumeric}};
  schema.primary_key = {"id"};
  return schema;
}

TEST(PgDigestSqlTest, TypeClassesGroupTypesThatPrintEqualValuesAlike) {
  EXPECT_EQ(type_class("integer"), "integer");
  EXPECT_EQ(type_class("bigint"), "integer");
  EXPECT_EQ(type_class("smallint"), "integer");
  EXPECT_EQ(type_class("character varying(20)"), "text");
  EXPECT_EQ(type_class("character(3)"), "text");
  EXPECT_EQ(type_class("numeric(10,2)"), "numeric");
  EXPECT_EQ(type_class("timestamp(3) with time zone"), "timestamp with time zone");
  EXPECT_EQ(type_class("timestamp without time zone"), "timestamp without time zone");
  EXPECT_EQ(type_class("bigint[]"), "integer[]");
  EXPECT_EQ(type_class("character varying(5)[]"), "text[]");
  // Different text forms of equal values: not one class.
  EXPECT_NE(type_class("real"), type_class("double precision"));
  EXPECT_NE(type_class("json"), type_class("jsonb"));
  EXPECT_NE(type_class("timestamp with time zone"), type_class("timestamp without time zone"));
}

TEST(PgDigestSqlTest, SchemeIdsMatchOnlyForTheSameColumnsAndClasses) {
  const CollectionSchema schema = orders();
  const std::string source =
      digest_scheme_id(schema, {"integer", "character varying(40)", "numeric(12,2)"});
  // A target created by the postgres sink: bigint, text, numeric.
  EXPECT_EQ(source, digest_scheme_id(schema, {"bigint", "text", "numeric"}));
  EXPECT_NE(source, digest_scheme_id(schema, {"bigint", "text", "double precision"}));
  CollectionSchema reordered = schema;
  std::swap(reordered.columns[1], reordered.columns[2]);
  EXPECT_NE(source, digest_scheme_id(reordered, {"integer", "numeric", "text"}));
  EXPECT_NE(source.find("\"Note\" text"), std::string::npos);
}

TEST(PgDigestSqlTest, QueriesQuoteNamesAndCutLeavesFromTheKeyHash) {
  const CollectionSchema schema = orders();
  EXPECT_EQ(leaf_expression(schema, 12),
            "('x' || substr(md5(ROW(\"id\")::text), 1, 8))::bit(12)::int");
  const std::string digest = server_digest_sql(schema, 12);
  EXPECT_NE(digest.find("md5(ROW(\"id\", \"Note\", \"amount\")::text)"), std::string::npos);
  EXPECT_NE(digest.find("FROM \"sales\".\"orders\""), std::string::npos);
  EXPECT_NE(digest.find("GROUP BY leaf"), std::string::npos);
  const std::string rows = leaf_rows_sql(schema, 12, {3, 4095});
  EXPECT_TRUE(
      rows.starts_with("SELECT \"id\", \"Note\", \"amount\" FROM \"sales\".\"orders\" WHERE"))
      << rows;
  EXPECT_NE(rows.find("= ANY('{3,4095}'::int[])"), std::string::npos);
}

}  // namespace
}  // namespace megasync::connectors::postgres
