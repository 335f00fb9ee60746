#include <gtest/gtest.h>

#include "connectors/sqlite/endpoint.h"
#include "connectors/sqlite/schema.h"
#include "connectors/sqlite/source.h"
#include "connectors/sqlite/tests/sqlite_test_util.h"

namespace megasync::connectors::sqlite {
namespace {

using testing::AppDb;
using testing::TempDir;

class SqliteSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/app.db";
    app_ = std::make_unique<AppDb>(path_);
    app_->exec(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, email VARCHAR(80), amount REAL, "
        "paid BOOLEAN, at DATETIME, note);"
        "CREATE TABLE lines(order_id INTEGER, n INTEGER, qty NUMERIC, PRIMARY KEY(n, order_id));");
    endpoint_ = std::make_unique<SqliteEndpoint>(SqliteOptions{.path = path_});
  }

  std::unique_ptr<RecordSource> open_source(std::vector<std::string> tables = {}) {
    auto source = endpoint_->open_record_source({.job = "j1", .collections = std::move(tables)});
    EXPECT_TRUE(source) << source.error().message();
    return source ? std::move(*source) : nullptr;
  }

  // Reads every batch available now; appends their changes and returns the last end.
  Position drain(RecordSource& source, std::vector<Change>& out, std::size_t max = 3) {
    Position end;
    while (true) {
      auto batch = source.next(Deadline::after(std::chrono::milliseconds(0)), max);
      EXPECT_TRUE(batch) << batch.error().message();
      if (!batch || !*batch) {
        return end;
      }
      EXPECT_LE((*batch)->changes.size(), max);
      for (Change& c : (*batch)->changes) {
        out.push_back(std::move(c));
      }
      if (!(*batch)->end.empty()) {
        end = (*batch)->end;
      }
    }
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<AppDb> app_;
  std::unique_ptr<SqliteEndpoint> endpoint_;
};

TEST_F(SqliteSourceTest, DescribeMapsTypesAndKeyOrder) {
  auto source = open_source();
  auto schemas = source->describe();
  ASSERT_TRUE(schemas) << schemas.error().message();
  ASSERT_EQ(schemas->size(), 2u);
  const CollectionSchema& lines = (*schemas)[0];
  EXPECT_EQ(lines.name, "lines");
  EXPECT_EQ(lines.primary_key, (std::vector<std::string>{"n", "order_id"}));
  EXPECT_EQ(lines.column("qty")->type, ColumnType::kNumeric);
  const CollectionSchema& orders = (*schemas)[1];
  EXPECT_EQ(orders.column("id")->type, ColumnType::kInteger);
  EXPECT_EQ(orders.column("email")->type, ColumnType::kText);
  EXPECT_EQ(orders.column("email")->source_type, "VARCHAR(80)");
  EXPECT_EQ(orders.column("amount")->type, ColumnType::kReal);
  EXPECT_EQ(orders.column("paid")->type, ColumnType::kBoolean);
  EXPECT_EQ(orders.column("at")->type, ColumnType::kTimestamp);
  EXPECT_EQ(orders.column("note")->type, ColumnType::kText);
  EXPECT_EQ(column_type("BLOB"), ColumnType::kBytes);
  EXPECT_EQ(column_type("DECIMAL(10,2)"), ColumnType::kNumeric);
  EXPECT_EQ(column_type("DATE"), ColumnType::kDate);
  EXPECT_EQ(column_type("DOUBLE PRECISION"), ColumnType::kReal);
}

TEST_F(SqliteSourceTest, TableWithoutPrimaryKeyIsAConfigErrorNamingIt) {
  app_->exec("CREATE TABLE events(name TEXT)");
  auto source = endpoint_->open_record_source({.job = "j1", .collections = {"ev*"}});
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().code(), ErrorCode::kInvalidConfig);
  EXPECT_NE(source.error().message().find("events"), std::string::npos);
  EXPECT_NE(source.error().message().find("declare a PRIMARY KEY"), std::string::npos);
}

TEST_F(SqliteSourceTest, MissingNamedTableIsAConfigError) {
  auto source = endpoint_->open_record_source({.job = "j1", .collections = {"nope"}});
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().code(), ErrorCode::kInvalidConfig);
}

TEST_F(SqliteSourceTest, GlobsChooseTables) {
  auto source = open_source({"ord*"});
  auto schemas = source->describe();
  ASSERT_TRUE(schemas);
  ASSERT_EQ(schemas->size(), 1u);
  EXPECT_EQ((*schemas)[0].name, "orders");
}

TEST_F(SqliteSourceTest, SnapshotThenStreamingWithoutLossOrDuplicatesAtTheSeam) {
  for (int i = 1; i <= 10; ++i) {
    app_->exec(
        fmt::format("INSERT INTO orders(id, email, amount) VALUES ({0}, 'u{0}@x', {0}.5)", i));
  }
  auto source = open_source({"orders"});
  ASSERT_TRUE(source->open(std::nullopt));
  // The snapshot's read transaction has begun; these writes land after it.
  auto first = source->next(Deadline::after(std::chrono::milliseconds(0)), 4);
  ASSERT_TRUE(first && *first);
  EXPECT_TRUE((*first)->snapshot);
  EXPECT_TRUE((*first)->end.empty());
  app_->exec("INSERT INTO orders(id, email) VALUES (11, 'new@x')");
  app_->exec("UPDATE orders SET email = 'changed@x' WHERE id = 9");
  app_->exec("DELETE FROM orders WHERE id = 10");

  std::vector<Change> snapshot = (*first)->changes;
  std::size_t snapshot_batches = 1;
  Position end;
  while (end.empty()) {
    auto batch = source->next(Deadline::after(std::chrono::milliseconds(0)), 4);
    ASSERT_TRUE(batch && *batch);
    EXPECT_TRUE((*batch)->snapshot);
    snapshot.insert(snapshot.end(), (*batch)->changes.begin(), (*batch)->changes.end());
    end = (*batch)->end;
    ++snapshot_batches;
  }
  EXPECT_EQ(snapshot_batches, 3u);
  ASSERT_EQ(snapshot.size(), 10u);  // the rows as of the snapshot: 1..10
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(snapshot[i].key, std::vector<Value>{std::int64_t{i + 1}});
    EXPECT_EQ(snapshot[i].op, Op::kUpsert);
  }
  EXPECT_EQ(std::get<std::string>(snapshot[8].fields.at("email")), "u9@x");
  EXPECT_EQ(std::get<double>(snapshot[8].fields.at("amount")), 9.5);

  std::vector<Change> changes;
  Position stream_end = drain(*source, changes);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].op, Op::kUpsert);
  EXPECT_EQ(changes[0].key, std::vector<Value>{std::int64_t{11}});
  EXPECT_EQ(changes[1].op, Op::kUpsert);
  EXPECT_EQ(std::get<std::string>(changes[1].fields.at("email")), "changed@x");
  EXPECT_EQ(changes[2].op, Op::kDelete);
  EXPECT_EQ(changes[2].key, std::vector<Value>{std::int64_t{10}});
  EXPECT_GT(source->compare(stream_end, end), 0);

  // Nothing new: nullopt, also after waiting a little.
  auto idle = source->next(Deadline::after(std::chrono::milliseconds(150)), 4);
  ASSERT_TRUE(idle);
  EXPECT_FALSE(*idle);
}

TEST_F(SqliteSourceTest, ResumesAfterAPositionAndKeyChangesAreDeletePlusUpsert) {
  app_->exec("INSERT INTO lines VALUES (1, 1, 2), (1, 2, 3)");
  Position end;
  {
    auto source = open_source({"lines"});
    ASSERT_TRUE(source->open(std::nullopt));
    std::vector<Change> snapshot;
    end = drain(*source, snapshot);
    EXPECT_EQ(snapshot.size(), 2u);
    ASSERT_FALSE(end.empty());
  }
  app_->exec("UPDATE lines SET n = 5 WHERE order_id = 1 AND n = 2");
  app_->exec("UPDATE lines SET qty = 9 WHERE order_id = 1 AND n = 1");
  app_->exec("INSERT INTO lines VALUES (2, 1, 1); DELETE FROM lines WHERE order_id = 2");

  auto source = open_source({"lines"});
  ASSERT_TRUE(source->open(end));
  std::vector<Change> changes;
  drain(*source, changes, 100);
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_EQ(changes[0].op, Op::kDelete);
  EXPECT_EQ(changes[0].key, (std::vector<Value>{std::int64_t{2}, std::int64_t{1}}));
  EXPECT_EQ(changes[1].op, Op::kUpsert);
  EXPECT_EQ(changes[1].key, (std::vector<Value>{std::int64_t{5}, std::int64_t{1}}));
  EXPECT_EQ(changes[2].op, Op::kUpsert);
  EXPECT_EQ(changes[2].fields.at("qty"), Value(std::int64_t{9}));
  // Inserted then deleted before it was read: the upsert finds no row and is a delete.
  EXPECT_EQ(changes[3].op, Op::kDelete);
  EXPECT_EQ(changes[4].op, Op::kDelete);
}

TEST_F(SqliteSourceTest, ReleasePrunesOnlyThisJobsConsumedRows) {
  auto source = open_source({"orders"});
  ASSERT_TRUE(source->open(std::nullopt));
  std::vector<Change> ignored;
  drain(*source, ignored);
  auto other = endpoint_->open_record_source({.job = "j2", .collections = {"orders"}});
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->open(std::nullopt));
  drain(**other, ignored);
  app_->exec("INSERT INTO orders(id) VALUES (1), (2)");
  std::vector<Change> changes;
  Position end = drain(*source, changes, 1);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(app_->scalar("SELECT count(*) FROM _megasync_changes"), "4");
  ASSERT_TRUE(source->release(end));
  EXPECT_EQ(app_->scalar("SELECT count(*) FROM _megasync_changes WHERE job = 'j1'"), "0");
  EXPECT_EQ(app_->scalar("SELECT count(*) FROM _megasync_changes WHERE job = 'j2'"), "2");
  EXPECT_EQ(app_->scalar("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = "
                         "'_megasync_j1_orders_upd'"),
            "1");
}

TEST(SqlitePositionTest, PositionsOrderAsNumbers) {
  EXPECT_EQ(encode_position(42), "00000000000000000042");
  EXPECT_EQ(decode_position("00000000000000000042"), 42);
  EXPECT_FALSE(decode_position("x"));
  EXPECT_LT(encode_position(9), encode_position(10));
}

}  // namespace
}  // namespace megasync::connectors::sqlite
