#include <gtest/gtest.h>

#include "connectors/postgres/relation_cache.h"

namespace megasync::connectors::postgres {
namespace {

TupleValue text(std::string s) {
  return {TupleValue::Kind::kText, std::move(s)};
}
const TupleValue kNull{TupleValue::Kind::kNull, ""};
const TupleValue kToast{TupleValue::Kind::kUnchangedToast, ""};

// public.t(id int4 PRIMARY KEY, name text, body text)
RelationMessage table_t() {
  return {.oid = 16385,
          .namespace_name = "public",
          .name = "t",
          .replica_identity = 'd',
          .columns = {{.flags = 1, .name = "id", .type_oid = 23},
                      {.flags = 0, .name = "name", .type_oid = 25},
                      {.flags = 0, .name = "body", .type_oid = 25}}};
}

class PgRelationCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { cache_.add(table_t()); }

  template <typename M>
  std::vector<Change> changes(const M& message) {
    std::vector<Change> out;
    auto status = cache_.append_changes(message, out);
    EXPECT_TRUE(status) << status.error().message();
    return out;
  }

  RelationCache cache_;
};

TEST_F(PgRelationCacheTest, InsertBecomesUpsertWithKeyAndFields) {
  auto out = changes(InsertMessage{16385, {text("1"), kNull, text("hello")}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Op::kUpsert);
  EXPECT_EQ(out[0].collection, "t");
  EXPECT_EQ(out[0].key, (std::vector<Value>{std::int64_t{1}}));
  EXPECT_EQ(out[0].fields,
            (Fields{{"id", std::int64_t{1}}, {"name", Value()}, {"body", std::string("hello")}}));
  EXPECT_TRUE(out[0].position.empty());  // the caller sets the transaction's position
}

TEST_F(PgRelationCacheTest, QualifiesCollectionsOutsidePublic) {
  auto sales = table_t();
  sales.oid = 16400;
  sales.namespace_name = "sales";
  cache_.add(sales);
  auto out = changes(InsertMessage{16400, {text("1"), kNull, kNull}});
  EXPECT_EQ(out[0].collection, "sales.t");
  RelationMessage catalog = table_t();
  catalog.namespace_name = "";
  EXPECT_EQ(collection_name(catalog), "t");
}

TEST_F(PgRelationCacheTest, UnchangedToastIsAbsentNotNull) {
  auto out = changes(UpdateMessage{16385, '\0', std::nullopt, {text("1"), kNull, kToast}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Op::kUpsert);
  EXPECT_EQ(out[0].fields.count("body"), 0u);
  ASSERT_EQ(out[0].fields.count("name"), 1u);
  EXPECT_TRUE(is_null(out[0].fields.at("name")));
}

TEST_F(PgRelationCacheTest, KeyChangeIsDeleteThenUpsert) {
  auto out = changes(
      UpdateMessage{16385, 'K', TupleData{text("1"), kNull, kNull}, {text("2"), kNull, kToast}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].op, Op::kDelete);
  EXPECT_EQ(out[0].collection, "t");
  EXPECT_EQ(out[0].key, (std::vector<Value>{std::int64_t{1}}));
  EXPECT_TRUE(out[0].fields.empty());
  EXPECT_EQ(out[1].op, Op::kUpsert);
  EXPECT_EQ(out[1].key, (std::vector<Value>{std::int64_t{2}}));
  // The key tuple's non-key nulls are not values: body stays absent.
  EXPECT_EQ(out[1].fields.count("body"), 0u);
}

TEST_F(PgRelationCacheTest, OldKeyEqualToNewKeyIsOnlyAnUpsert) {
  auto out = changes(
      UpdateMessage{16385, 'K', TupleData{text("1"), kNull, kNull}, {text("1"), text("n"), kNull}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Op::kUpsert);
}

TEST_F(PgRelationCacheTest, UnchangedToastedKeyComesFromTheOldKey) {
  auto relation = table_t();
  relation.oid = 1;
  relation.columns[0].type_oid = 25;  // a text key, large enough to be TOASTed
  cache_.add(relation);
  auto out = changes(
      UpdateMessage{1, 'K', TupleData{text("k"), kNull, kNull}, {kToast, text("n"), kNull}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, (std::vector<Value>{std::string("k")}));
  EXPECT_EQ(out[0].fields.at("id"), Value(std::string("k")));

  std::vector<Change> none;
  auto status =
      cache_.append_changes(UpdateMessage{1, '\0', std::nullopt, {kToast, kNull, kNull}}, none);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message().find("key value was not sent"), std::string::npos);
}

TEST_F(PgRelationCacheTest, ReplicaIdentityFullFillsUnchangedColumnsFromTheOldRow) {
  auto full = table_t();
  full.oid = 2;
  full.replica_identity = 'f';
  for (auto& c : full.columns) {
    c.flags = 1;  // pgoutput flags every column as key under FULL
  }
  cache_.add(full);
  auto out = changes(UpdateMessage{
      2, 'O', TupleData{text("1"), text("a"), text("big")}, {text("1"), text("b"), kToast}});
  // The key is the whole row: any change is a delete of the old row and an upsert.
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].op, Op::kDelete);
  EXPECT_EQ(out[0].key.size(), 3u);
  EXPECT_EQ(out[1].fields.at("body"), Value(std::string("big")));
  auto schema = cache_.schema(2);
  ASSERT_TRUE(schema);
  EXPECT_EQ(schema->primary_key, (std::vector<std::string>{"id", "name", "body"}));
}

TEST_F(PgRelationCacheTest, DeleteUsesKeyColumns) {
  auto out = changes(DeleteMessage{16385, 'K', {text("7"), kNull, kNull}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Op::kDelete);
  EXPECT_EQ(out[0].key, (std::vector<Value>{std::int64_t{7}}));
  EXPECT_TRUE(out[0].fields.empty());
}

TEST_F(PgRelationCacheTest, TruncateNamesEveryRelation) {
  auto other = table_t();
  other.oid = 16390;
  other.namespace_name = "audit";
  other.name = "log";
  cache_.add(other);
  auto out = changes(TruncateMessage{0, {16385, 16390}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].op, Op::kTruncate);
  EXPECT_EQ(out[0].collection, "t");
  EXPECT_EQ(out[1].collection, "audit.log");
}

TEST_F(PgRelationCacheTest, NewRelationMessageReplacesTheOld) {
  auto altered = table_t();
  altered.columns.pop_back();
  altered.columns[1].type_oid = 20;  // name became bigint
  cache_.add(altered);
  auto out = changes(InsertMessage{16385, {text("1"), text("42")}});
  EXPECT_EQ(out[0].fields.at("name"), Value(std::int64_t{42}));
}

TEST_F(PgRelationCacheTest, ErrorsLeaveOutputUnchanged) {
  struct Case {
    std::function<Status(std::vector<Change>&)> run;
    std::string expected;
  };
  auto no_key = table_t();
  no_key.oid = 3;
  no_key.columns[0].flags = 0;
  cache_.add(no_key);
  std::vector<Case> cases = {
      {[&](auto& out) {
         return cache_.append_changes(InsertMessage{99, {}}, out);
       },
       "Insert for relation OID 99 before any Relation message"},
      {[&](auto& out) {
         return cache_.append_changes(InsertMessage{16385, {text("1")}}, out);
       },
       "has 1 columns but its Relation message has 3"},
      {[&](auto& out) {
         return cache_.append_changes(InsertMessage{3, {text("1"), kNull, kNull}}, out);
       },
       "t has no replica identity columns"},
      {[&](auto& out) {
         return cache_.append_changes(
             InsertMessage{16385, {{TupleValue::Kind::kBinary, "\x01"}, kNull, kNull}}, out);
       },
       "binary values are not supported"},
      {[&](auto& out) {
         return cache_.append_changes(InsertMessage{16385, {text("x1"), kNull, kNull}}, out);
       },
       "pgoutput: t column id: invalid integer \"x1\""},
      {[&](auto& out) {
         return cache_.append_changes(
             UpdateMessage{16385, 'K', TupleData{text("1")}, {text("2"), kNull, kNull}}, out);
       },
       "Update on t has 1 columns"},
      {[&](auto& out) {
         return cache_.append_changes(DeleteMessage{16385, 'K', {kToast, kNull, kNull}}, out);
       },
       "deleted key value was not sent"},
      {[&](auto& out) {
         return cache_.append_changes(TruncateMessage{0, {16385, 77}}, out);
       },
       "Truncate for relation OID 77"},
  };
  for (const auto& c : cases) {
    std::vector<Change> out(1);
    auto status = c.run(out);
    ASSERT_FALSE(status) << c.expected;
    EXPECT_EQ(status.error().code(), ErrorCode::kPermanent);
    EXPECT_NE(status.error().message().find(c.expected), std::string::npos)
        << status.error().message();
    EXPECT_EQ(out.size(), 1u);
  }
}

TEST_F(PgRelationCacheTest, SchemaMapsTypesAndCustomTypes) {
  cache_.add(TypeMessage{16500, "public", "mood"});
  cache_.add(TypeMessage{16499, "app", "_mood"});
  RelationMessage r{
      .oid = 4,
      .namespace_name = "app",
      .name = "people",
      .columns = {{.flags = 1, .name = "id", .type_oid = 20},
                  {.name = "nick", .type_oid = 1043, .type_modifier = 24},
                  {.name = "price", .type_oid = 1700, .type_modifier = (10 << 16 | 2) + 4},
                  {.name = "seen", .type_oid = 1184, .type_modifier = 3},
                  {.name = "mood", .type_oid = 16500},
                  {.name = "moods", .type_oid = 16499},
                  {.name = "tags", .type_oid = 1009},
                  {.name = "mystery", .type_oid = 99999}}};
  cache_.add(r);
  auto schema = cache_.schema(4);
  ASSERT_TRUE(schema) << schema.error().message();
  EXPECT_EQ(schema->name, "app.people");
  EXPECT_EQ(schema->primary_key, (std::vector<std::string>{"id"}));
  const auto& c = schema->columns;
  ASSERT_EQ(c.size(), 8u);
  EXPECT_EQ(c[0].type, ColumnType::kInteger);
  EXPECT_FALSE(c[0].nullable);
  EXPECT_EQ(c[0].source_type, "bigint");
  EXPECT_EQ(c[1].source_type, "character varying(20)");
  EXPECT_TRUE(c[1].nullable);
  EXPECT_EQ(c[2].type, ColumnType::kNumeric);
  EXPECT_EQ(c[2].source_type, "numeric(10,2)");
  EXPECT_EQ(c[3].type, ColumnType::kTimestampTz);
  EXPECT_EQ(c[3].source_type, "timestamp(3) with time zone");
  EXPECT_EQ(c[4].type, ColumnType::kText);
  EXPECT_EQ(c[4].source_type, "mood");
  EXPECT_EQ(c[5].type, ColumnType::kArray);
  EXPECT_EQ(c[5].source_type, "app._mood");
  EXPECT_EQ(c[6].type, ColumnType::kArray);
  EXPECT_EQ(c[6].source_type, "text[]");
  EXPECT_EQ(c[7].type, ColumnType::kText);
  EXPECT_EQ(c[7].source_type, "oid 99999");

  auto out = changes(
      InsertMessage{4,
                    {text("1"), text("n"), text("1.50"), text("2024-01-02 05:04:05+02"),
                     text("happy"), text("{happy,\"very sad\"}"), text("{a,NULL}"), text("?")}});
  const auto& f = out[0].fields;
  EXPECT_EQ(f.at("price"), Value(std::string("1.50")));
  EXPECT_EQ(f.at("seen"), Value(std::string("2024-01-02T03:04:05Z")));
  EXPECT_EQ(f.at("mood"), Value(std::string("happy")));
  EXPECT_EQ(f.at("moods"), Value(std::string(R"(["happy","very sad"])")));
  EXPECT_EQ(f.at("tags"), Value(std::string(R"(["a",null])")));
  EXPECT_EQ(f.at("mystery"), Value(std::string("?")));

  EXPECT_EQ(cache_.schema(12345).error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace megasync::connectors::postgres
