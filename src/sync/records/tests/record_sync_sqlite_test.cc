// The engine over the real sqlite source and sink: snapshot, changes, pruning,
// and a transform, from one file to two.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "connectors/sqlite/endpoint.h"
#include "connectors/sqlite/tests/sqlite_test_util.h"
#include "state/memory_store.h"
#include "sync/records/record_sync_job.h"
#include "transforms/build.h"

namespace megasync::sync::records {
namespace {

using connectors::sqlite::SqliteEndpoint;
using connectors::sqlite::SqliteOptions;
using connectors::sqlite::testing::AppDb;
using connectors::sqlite::testing::TempDir;

class RecordSyncSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = std::make_unique<AppDb>(dir_.path() + "/app.db");
    app_->exec(
        "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, score REAL);"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250) "
        "INSERT INTO users SELECT i, 'u' || i || '@x', i * 0.5 FROM n;");
  }

  RecordSyncJob make_job() {
    RecordSyncOptions options;
    options.job = "users_job";
    options.source_name = "app";
    options.source =
        std::make_shared<SqliteEndpoint>(SqliteOptions{.path = dir_.path() + "/app.db"});
    for (const char* name : {"a", "b"}) {
      options.targets.emplace_back(
          name, std::make_shared<SqliteEndpoint>(
                    SqliteOptions{.path = dir_.path() + "/" + name + ".db", .create = true}));
    }
    options.batch_size = 40;
    options.queue_batches = 2;
    return RecordSyncJob(std::move(options), [] {
      return std::move(*transforms::build_chain({config::Options(
          YAML::Load("{type: mask, fields: [email], with: partial, keep_last: 3}"), {})}));
    });
  }

  Status run(RecordSyncJob& job) {
    engine::RunContext ctx;
    ctx.job = "users_job";
    ctx.store = store_.get();
    return job.run(ctx);
  }

  std::vector<std::string> rows(const std::string& file) {
    AppDb db(dir_.path() + "/" + file);
    return db.rows("SELECT id, email, score FROM users ORDER BY id");
  }

  std::vector<std::string> expected() {
    return app_->rows("SELECT id, '****' || substr(email, -3), score FROM users ORDER BY id");
  }

  TempDir dir_;
  std::unique_ptr<AppDb> app_;
  std::unique_ptr<state::StateStore> store_ = state::open_memory_store();
};

TEST_F(RecordSyncSqliteTest, SnapshotThenChangesToTwoTargets) {
  RecordSyncJob job = make_job();
  ASSERT_TRUE(run(job));
  EXPECT_EQ(rows("a.db").size(), 250u);
  EXPECT_EQ(rows("a.db"), expected());
  EXPECT_EQ(rows("b.db"), expected());

  app_->exec(
      "UPDATE users SET email = 'changed@y' WHERE id % 10 = 0;"
      "DELETE FROM users WHERE id > 240;"
      "INSERT INTO users VALUES (1000, 'new@z', 1.0);"
      "UPDATE users SET id = 2000 WHERE id = 1;");
  ASSERT_TRUE(run(job));
  EXPECT_EQ(rows("a.db"), expected());
  EXPECT_EQ(rows("b.db"), expected());
  EXPECT_EQ(app_->scalar("SELECT count(*) FROM _megasync_changes"), "0");
  auto checkpoint = store_->get_checkpoint("users_job", "b");
  ASSERT_TRUE(checkpoint && *checkpoint);
}

}  // namespace
}  // namespace megasync::sync::records
