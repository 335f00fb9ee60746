#include <gtest/gtest.h>

#include "connectors/sqlite/endpoint.h"
#include "connectors/sqlite/sink.h"
#include "connectors/sqlite/tests/sqlite_test_util.h"

namespace megasync::connectors::sqlite {
namespace {

using testing::AppDb;
using testing::TempDir;

CollectionSchema orders_schema() {
  CollectionSchema schema;
  schema.name = "orders";
  schema.columns = {{.name = "id", .type = ColumnType::kInteger},
                    {.name = "email", .type = ColumnType::kText},
                    {.name = "amount", .type = ColumnType::kReal},
                    {.name = "blob", .type = ColumnType::kBytes}};
  schema.primary_key = {"id"};
  return schema;
}

Change upsert(std::int64_t id, Fields fields) {
  Change change;
  change.collection = "orders";
  change.key = {id};
  fields["id"] = id;
  change.fields = std::move(fields);
  return change;
}

Change remove(std::int64_t id) {
  Change change;
  change.op = Op::kDelete;
  change.collection = "orders";
  change.key = {id};
  return change;
}

class SqliteSinkTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.path() + "/target.db"; }

  std::unique_ptr<RecordSink> open_sink(bool create = true) {
    SqliteEndpoint endpoint(SqliteOptions{.path = path_, .create = create});
    auto sink = endpoint.open_record_sink({.job = "j", .target = "t"});
    EXPECT_TRUE(sink) << sink.error().message();
    return sink ? std::move(*sink) : nullptr;
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(SqliteSinkTest, MissingFileWithoutCreateIsNotFound) {
  SqliteEndpoint endpoint(SqliteOptions{.path = path_, .create = false});
  auto sink = endpoint.open_record_sink({.job = "j", .target = "t"});
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().code(), ErrorCode::kNotFound);
}

TEST_F(SqliteSinkTest, CreatesTheTableInWalModeWithTheKey) {
  auto sink = open_sink();
  ASSERT_TRUE(sink->prepare({orders_schema()}));
  AppDb db(path_);
  EXPECT_EQ(db.scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(db.scalar("SELECT name FROM pragma_table_info('orders') WHERE pk = 1"), "id");
  EXPECT_EQ(db.scalar("SELECT type FROM pragma_table_info('orders') WHERE name = 'amount'"),
            "REAL");
}

TEST_F(SqliteSinkTest, AddsMissingColumnsToAnExistingTable) {
  {
    AppDb db(path_);
    db.exec("CREATE TABLE orders(id INTEGER PRIMARY KEY, email TEXT, extra TEXT)");
  }
  auto sink = open_sink(false);
  ASSERT_TRUE(sink->prepare({orders_schema()}));
  AppDb db(path_);
  EXPECT_EQ(db.rows("SELECT name FROM pragma_table_info('orders') ORDER BY cid"),
            (std::vector<std::string>{"id", "email", "extra", "amount", "blob"}));
}

TEST_F(SqliteSinkTest, UpsertDeleteTruncateAndIdempotentReplay) {
  auto sink = open_sink();
  ASSERT_TRUE(sink->prepare({orders_schema()}));
  Batch batch;
  batch.changes = {upsert(1, {{"email", std::string("a@x")}, {"amount", 1.5}}),
                   upsert(2, {{"email", std::string("b@x")}, {"blob", Bytes{"\x01\x02"}}}),
                   upsert(3, {{"email", std::string("c@x")}}),
                   upsert(1, {{"amount", 2.5}}),  // only the present column changes
                   remove(3),
                   remove(99)};
  ASSERT_TRUE(sink->apply(batch));
  AppDb db(path_);
  const std::string query = "SELECT id, email, amount, hex(blob) FROM orders ORDER BY id";
  EXPECT_EQ(db.rows(query), (std::vector<std::string>{"1|a@x|2.5|", "2|b@x|NULL|0102"}));
  ASSERT_TRUE(sink->apply(batch));  // the same batch again: the same state
  EXPECT_EQ(db.rows(query), (std::vector<std::string>{"1|a@x|2.5|", "2|b@x|NULL|0102"}));

  Batch truncate;
  Change change;
  change.op = Op::kTruncate;
  change.collection = "orders";
  truncate.changes = {change};
  ASSERT_TRUE(sink->apply(truncate));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM orders"), "0");
}

TEST_F(SqliteSinkTest, AFailingChangeRollsBackTheWholeBatch) {
  auto sink = open_sink();
  ASSERT_TRUE(sink->prepare({orders_schema()}));
  Batch batch;
  Change unknown = upsert(2, {});
  unknown.collection = "nope";
  batch.changes = {upsert(1, {{"email", std::string("a@x")}}), unknown};
  auto applied = sink->apply(batch);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().code(), ErrorCode::kPermanent);
  AppDb db(path_);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM orders"), "0");
}

TEST_F(SqliteSinkTest, AResyncReplacesTheRowsInOneTransactionWithItsCheckpoint) {
  auto sink = open_sink();
  ASSERT_TRUE(sink->prepare({orders_schema()}));
  Batch before;
  before.changes = {upsert(1, {{"email", std::string("old")}}),
                    upsert(2, {{"email", std::string("gone")}})};
  before.end = "0001";
  ASSERT_TRUE(sink->apply(before));
  Result<bool> can = sink->can_replace();
  ASSERT_TRUE(can && *can);

  Batch first;
  first.snapshot = first.replace = true;
  first.changes = {upsert(1, {{"email", std::string("new")}})};
  ASSERT_TRUE(sink->apply(first));
  EXPECT_TRUE(sink->holds_uncommitted());
  AppDb db(path_);
  const std::string query = "SELECT id, email FROM orders ORDER BY id";
  // Nothing of the resync shows before its last batch.
  EXPECT_EQ(db.rows(query), (std::vector<std::string>{"1|old", "2|gone"}));

  Batch last;
  last.snapshot = last.replace = true;
  last.changes = {upsert(3, {{"email", std::string("third")}})};
  last.end = "0009";
  ASSERT_TRUE(sink->apply(last));
  EXPECT_FALSE(sink->holds_uncommitted());
  EXPECT_EQ(db.rows(query), (std::vector<std::string>{"1|new", "3|third"}));
  Result<std::optional<Position>> checkpoint = sink->load_checkpoint();
  ASSERT_TRUE(checkpoint && *checkpoint);
  EXPECT_EQ(**checkpoint, "0009");
}

TEST_F(SqliteSinkTest, AResyncCutShortIsRolledBack) {
  auto sink = open_sink();
  ASSERT_TRUE(sink->prepare({orders_schema()}));
  Batch before;
  before.changes = {upsert(1, {{"email", std::string("old")}})};
  before.end = "0001";
  ASSERT_TRUE(sink->apply(before));
  Batch first;
  first.snapshot = first.replace = true;
  first.changes = {upsert(2, {{"email", std::string("new")}})};
  ASSERT_TRUE(sink->apply(first));
  // A stream batch where the resync's next one should be: the resync is undone.
  Batch stream;
  stream.changes = {upsert(5, {{"email", std::string("x")}})};
  stream.end = "0010";
  ASSERT_FALSE(sink->apply(stream));
  EXPECT_FALSE(sink->holds_uncommitted());
  AppDb db(path_);
  EXPECT_EQ(db.rows("SELECT id, email FROM orders ORDER BY id"),
            (std::vector<std::string>{"1|old"}));
}

TEST_F(SqliteSinkTest, ATableAnotherReferencesIsNotReplaced) {
  {
    AppDb db(path_);
    db.exec("CREATE TABLE lines(order_id INTEGER REFERENCES orders(id))");
  }
  auto sink = open_sink();
  ASSERT_TRUE(sink->prepare({orders_schema()}));
  Result<bool> can = sink->can_replace();
  ASSERT_TRUE(can);
  EXPECT_FALSE(*can);
}

}  // namespace
}  // namespace megasync::connectors::sqlite
