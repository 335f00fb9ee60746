// The engine over the real sqlite source and sink: snapshot, changes, pruning,
// and a transform, from one file to two.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "connectors/sqlite/endpoint.h"
#include "connectors/sqlite/tests/sqlite_test_util.h"
#include "events/bus.h"
#include "monitor/metrics.h"
#include "state/memory_store.h"
#include "sync/records/record_sync_job.h"
#include "transforms/build.h"

namespace megasync::sync::records {
namespace {

using connectors::sqlite::SqliteEndpoint;
using connectors::sqlite::SqliteOptions;
using connectors::sqlite::testing::AppDb;
using connectors::sqlite::testing::TempDir;

// A sqlite target whose sinks fail every apply after the first `healthy` ones
// while `failing` is set: a run interrupted in the middle of its snapshot.
struct Interruption {
  int healthy = 1;
  bool failing = true;
};

class InterruptedSink : public RecordSink {
 public:
  InterruptedSink(std::unique_ptr<RecordSink> inner, Interruption* plan)
      : inner_(std::move(inner)), plan_(plan) {}
  Status prepare(const std::vector<CollectionSchema>& schemas) override {
    return inner_->prepare(schemas);
  }
  Status apply(const Batch& batch) override {
    if (plan_->failing && applied_++ >= plan_->healthy) {
      return make_error(ErrorCode::kRetryable, "interrupted");
    }
    return inner_->apply(batch);
  }

 private:
  std::unique_ptr<RecordSink> inner_;
  Interruption* plan_;
  int applied_ = 0;
};

class InterruptedEndpoint : public SqliteEndpoint {
 public:
  InterruptedEndpoint(SqliteOptions options, Interruption* plan)
      : SqliteEndpoint(std::move(options)), plan_(plan) {}
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& r) override {
    Result<std::unique_ptr<RecordSink>> sink = SqliteEndpoint::open_record_sink(r);
    if (!sink) {
      return sink;
    }
    return std::unique_ptr<RecordSink>(std::make_unique<InterruptedSink>(std::move(*sink), plan_));
  }

 private:
  Interruption* plan_;
};

class RecordSyncSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = std::make_unique<AppDb>(dir_.path() + "/app.db");
    app_->exec(
        "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, score REAL);"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250) "
        "INSERT INTO users SELECT i, 'u' || i || '@x', i * 0.5 FROM n;");
  }

  RecordSyncJob make_job(Duration verify_interval = Duration(0),
                         Interruption* interruption = nullptr) {
    RecordSyncOptions options;
    options.verify_interval = verify_interval;
    options.job = "users_job";
    options.source_name = "app";
    options.source =
        std::make_shared<SqliteEndpoint>(SqliteOptions{.path = dir_.path() + "/app.db"});
    for (const char* name : {"a", "b"}) {
      SqliteOptions target{.path = dir_.path() + "/" + name + ".db", .create = true};
      if (interruption != nullptr && std::string(name) == "a") {
        options.targets.emplace_back(name,
                                     std::make_shared<InterruptedEndpoint>(target, interruption));
      } else {
        options.targets.emplace_back(name, std::make_shared<SqliteEndpoint>(target));
      }
    }
    options.batch_size = 40;
    options.queue_batches = 2;
    return RecordSyncJob(std::move(options), [] {
      return std::move(*transforms::build_chain({config::Options(
          YAML::Load("{type: mask, fields: [email], with: partial, keep_last: 3}"), {})}));
    });
  }

  engine::RunContext context() {
    engine::RunContext ctx;
    ctx.job = "users_job";
    ctx.store = store_.get();
    ctx.events = &bus_;
    ctx.metrics = &metrics_;
    return ctx;
  }

  Status run(RecordSyncJob& job) {
    engine::RunContext ctx = context();
    return job.run(ctx);
  }

  nlohmann::json verify(RecordSyncJob& job, bool repair) {
    engine::RunContext ctx = context();
    Result<nlohmann::json> doc = job.verify(ctx, repair);
    EXPECT_TRUE(doc) << (doc ? "" : doc.error().message());
    return doc ? *doc : nlohmann::json();
  }

  double gauge(const std::string& name, const std::string& target) {
    return metrics_.gauge(name, "", {"job", "target"}).with({"users_job", target}).value();
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
  events::Bus bus_{store_.get()};
  monitor::MetricsRegistry metrics_;
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

TEST_F(RecordSyncSqliteTest, VerifyThroughTheTransformsThenRepairOnlyWhatDiffers) {
  RecordSyncJob job = make_job();
  ASSERT_TRUE(run(job));
  nlohmann::json doc = verify(job, false);
  EXPECT_TRUE(doc["equal"]) << doc.dump();  // masked emails compare as the target holds them
  EXPECT_EQ(doc["targets"]["a"]["collections"]["users"]["source_rows"], 250);

  {
    AppDb a(dir_.path() + "/a.db");
    a.exec(
        "DELETE FROM users WHERE id = 7;"
        "UPDATE users SET score = -1 WHERE id = 42;"
        "INSERT INTO users VALUES (5000, 'ghost', 0);");
  }
  doc = verify(job, false);
  EXPECT_FALSE(doc["equal"]);
  const nlohmann::json& users = doc["targets"]["a"]["collections"]["users"];
  EXPECT_EQ(users["missing_keys"], nlohmann::json::array({"[7]"}));
  EXPECT_EQ(users["differ_keys"], nlohmann::json::array({"[42]"}));
  EXPECT_EQ(users["extra_keys"], nlohmann::json::array({"[5000]"}));
  EXPECT_TRUE(doc["targets"]["b"]["equal"]);

  doc = verify(job, true);
  EXPECT_EQ(doc["targets"]["a"]["repaired"], 3);
  EXPECT_TRUE(doc["equal_after_repair"]);
  EXPECT_EQ(rows("a.db"), expected());
  EXPECT_TRUE(verify(job, false)["equal"]);
}

TEST_F(RecordSyncSqliteTest, RowsDeletedAfterAnInterruptedSnapshotAreDeletedAtTheTargets) {
  Interruption interruption;
  RecordSyncJob job = make_job(Duration(0), &interruption);
  Status first = run(job);  // target a takes one batch (ids 1..40), then fails
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code(), ErrorCode::kRetryable);
  ASSERT_GE(rows("a.db").size(), 40u);

  // Deleted and re-keyed while no snapshot is running: a second snapshot does
  // not see these rows at all, so only the log can tell the targets.
  app_->exec(
      "DELETE FROM users WHERE id <= 5;"
      "UPDATE users SET id = 3000 WHERE id = 6;");
  interruption.failing = false;
  ASSERT_TRUE(run(job));
  EXPECT_EQ(rows("a.db"), expected());
  EXPECT_EQ(rows("b.db"), expected());
  // The marker is cleared once the replay ran.
  auto marker = store_->get_checkpoint("users_job", "");
  ASSERT_TRUE(marker);
  EXPECT_FALSE(marker->has_value());
}

TEST_F(RecordSyncSqliteTest, TheTargetKeepsItsCheckpointInTheSameTransaction) {
  RecordSyncJob job = make_job();
  ASSERT_TRUE(run(job));
  auto kept = store_->get_checkpoint("users_job", "a");
  ASSERT_TRUE(kept && *kept);
  AppDb a(dir_.path() + "/a.db");
  EXPECT_EQ(a.scalar("SELECT position FROM _megasync_checkpoints WHERE job = 'users_job' AND "
                     "target = 'a'"),
            (*kept)->position);

  // The state store lost its copy (restored from an old backup, say): the
  // targets still know where they are, so the next run streams, not snapshots.
  ASSERT_TRUE(store_->delete_checkpoints("users_job"));
  app_->exec("UPDATE users SET score = 7 WHERE id = 9");
  engine::RunProgress progress;
  engine::RunContext ctx = context();
  ctx.progress = &progress;
  ASSERT_TRUE(job.run(ctx));
  EXPECT_EQ(progress.snapshot().records, 2);  // one change, to each of the two targets
  EXPECT_EQ(rows("a.db"), expected());
}

TEST_F(RecordSyncSqliteTest, ARunReportsADivergedTargetAndItsLag) {
  RecordSyncJob job = make_job(std::chrono::milliseconds(1));
  ASSERT_TRUE(run(job));
  EXPECT_EQ(gauge("megasync_job_in_sync", "a"), 1);
  EXPECT_EQ(gauge("megasync_job_lag_records", "a"), 0);
  {
    AppDb b(dir_.path() + "/b.db");
    b.exec("UPDATE users SET score = 99 WHERE id = 3");  // written behind megasync's back
  }
  ASSERT_TRUE(run(job));  // the run itself succeeds: it applied what it read
  EXPECT_EQ(gauge("megasync_job_in_sync", "a"), 1);
  EXPECT_EQ(gauge("megasync_job_in_sync", "b"), 0);
  Result<std::vector<state::EventRecord>> events = store_->list_events({});
  ASSERT_TRUE(events);
  int diverged = 0;
  for (const state::EventRecord& event : *events) {
    if (event.type == "sync.diverged") {
      ++diverged;
      EXPECT_EQ(event.endpoint, "b");
      EXPECT_NE(event.data.dump().find("[3]"), std::string::npos) << event.data.dump();
    }
  }
  EXPECT_EQ(diverged, 1);
}

}  // namespace
}  // namespace megasync::sync::records
