// Opening the SQLite state store: migrations, and refusing files it must not use.
#include <gtest/gtest.h>

#include <fstream>

#include "state/memory_store.h"
#include "state/sqlite_store.h"
#include "state/sqlite_store_internal.h"
#include "state/tests/test_support.h"

namespace megasync::state {
namespace {

std::string index_names(const std::string& path) {
  return query_raw(path,
                   "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master "
                   "WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name)");
}

TEST(SqliteMigrations, FreshFileMigratesToLatest) {
  TempDir dir;
  std::string path = dir.file("megasync.db");
  auto store = open_sqlite_store(path);
  ASSERT_TRUE(store) << store.error().message();
  ASSERT_GE(latest_sqlite_schema_version(), 2);
  auto version = (*store)->schema_version();
  ASSERT_TRUE(version) << version.error().message();
  EXPECT_EQ(*version, latest_sqlite_schema_version());
  EXPECT_EQ(query_raw(path, "SELECT COUNT(*) FROM schema_version"),
            std::to_string(latest_sqlite_schema_version()));
  EXPECT_EQ(query_raw(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(index_names(path),
            "dead_letters_job,events_job,events_time,events_type,runs_job_id,runs_started_at");
}

TEST(SqliteMigrations, ReopeningIsIdempotent) {
  TempDir dir;
  std::string path = dir.file("megasync.db");
  {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store) << store.error().message();
    ASSERT_TRUE((*store)->put_checkpoint("orders", "backup", "lsn/1"));
  }
  std::string applied = query_raw(path, "SELECT group_concat(applied_at) FROM schema_version");
  for (int i = 0; i < 2; ++i) {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store) << store.error().message();
    EXPECT_EQ(*(*store)->schema_version(), latest_sqlite_schema_version());
    auto checkpoint = (*store)->get_checkpoint("orders", "backup");
    ASSERT_TRUE(checkpoint && *checkpoint);
    EXPECT_EQ((*checkpoint)->position, "lsn/1");
  }
  EXPECT_EQ(query_raw(path, "SELECT group_concat(applied_at) FROM schema_version"), applied);
}

TEST(SqliteMigrations, VersionOneFileUpgradesWithDataIntact) {
  TempDir dir;
  std::string path = dir.file("megasync.db");
  {
    SqliteOpenOptions options;
    options.target_version = 1;
    auto store = open_sqlite_store(path, options);
    ASSERT_TRUE(store) << store.error().message();
    EXPECT_EQ(*(*store)->schema_version(), 1);
    ASSERT_TRUE((*store)->put_checkpoint("orders", "backup", "lsn/42"));
    EventRecord event;
    event.type = "sync.completed";
    event.job = "orders";
    event.data = {{"records", 7}};
    ASSERT_TRUE((*store)->append_event(event));
    RunRecord run;
    run.job = "orders";
    run.trigger = "schedule";
    ASSERT_TRUE((*store)->begin_run(run));
  }
  EXPECT_EQ(index_names(path), "runs_job_id");

  auto store = open_sqlite_store(path);
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ(*(*store)->schema_version(), latest_sqlite_schema_version());
  EXPECT_EQ(index_names(path),
            "dead_letters_job,events_job,events_time,events_type,runs_job_id,runs_started_at");
  auto checkpoint = (*store)->get_checkpoint("orders", "backup");
  ASSERT_TRUE(checkpoint && *checkpoint);
  EXPECT_EQ((*checkpoint)->position, "lsn/42");
  EventQuery query;
  query.type = "sync.*";
  auto events = (*store)->list_events(query);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].data["records"], 7);
  auto runs = (*store)->list_runs("orders", 10);
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->size(), 1u);
}

TEST(SqliteMigrations, NewerFileIsRefused) {
  TempDir dir;
  std::string path = dir.file("megasync.db");
  ASSERT_TRUE(open_sqlite_store(path));
  int newer = latest_sqlite_schema_version() + 1;
  exec_raw(path, "INSERT INTO schema_version (version, applied_at) VALUES (" +
                     std::to_string(newer) + ", 0)");

  auto store = open_sqlite_store(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kPermanent);
  EXPECT_EQ(store.error().message(),
            fmt::format("state store {} was written by a newer megasync (schema {}, this build "
                        "knows {}); upgrade megasync or point state.path at another file",
                        path, newer, latest_sqlite_schema_version()));
}

TEST(SqliteMigrations, TextFileIsRefused) {
  TempDir dir;
  std::string path = dir.file("notes.txt");
  {
    std::ofstream out(path);
    for (int i = 0; i < 100; ++i) {
      out << "this is a text file, not a database\n";
    }
  }
  auto store = open_sqlite_store(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(store.error().message().find(path), std::string::npos) << store.error().message();
  EXPECT_NE(store.error().message().find("not a SQLite database; move the file away or point "
                                         "state.path at another file"),
            std::string::npos)
      << store.error().message();
}

TEST(SqliteMigrations, ForeignSqliteDatabaseIsRefused) {
  TempDir dir;
  std::string path = dir.file("other.db");
  exec_raw(path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)");
  auto store = open_sqlite_store(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(store.error().message().find("not a megasync state store"), std::string::npos)
      << store.error().message();
  // Refusing must not have altered the file.
  EXPECT_EQ(query_raw(path, "SELECT COUNT(*) FROM sqlite_master"), "1");
}

TEST(SqliteMigrations, MissingDirectoryIsNamed) {
  TempDir dir;
  std::string missing = dir.file("no/such/dir");
  auto store = open_sqlite_store(missing + "/megasync.db");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(store.error().message().find("directory " + missing + " does not exist"),
            std::string::npos)
      << store.error().message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("no")));
}

TEST(SqliteMigrations, DirectoryAsPathIsRefused) {
  TempDir dir;
  auto store = open_sqlite_store(dir.path().string());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(store.error().message().find("is a directory"), std::string::npos);
}

TEST(SqliteMigrations, EmptyPathIsAConfigError) {
  auto store = open_sqlite_store("");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidConfig);
}

TEST(SqliteMigrations, MemoryStoresAreMigratedAndIndependent) {
  auto first = open_sqlite_store(":memory:");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*(*first)->schema_version(), latest_sqlite_schema_version());
  auto second = open_memory_store();
  ASSERT_TRUE((*first)->put_checkpoint("orders", "backup", "1"));
  auto missing = second->get_checkpoint("orders", "backup");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  EXPECT_TRUE(second->check_writable());
}

}  // namespace
}  // namespace megasync::state
