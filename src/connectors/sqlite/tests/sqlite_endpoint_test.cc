#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "connectors/sqlite/endpoint.h"

namespace megasync::connectors::sqlite {
namespace {

class SqliteEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/megasync-sqlite-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(SqliteEndpointTest, ARealDatabaseIsUp) {
  const std::string path = dir_ + "/orders.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  SqliteEndpoint endpoint({path, false, std::chrono::seconds(1)});
  EXPECT_TRUE(endpoint.probe(Deadline::never()));
}

TEST_F(SqliteEndpointTest, MissingFileIsDownUnlessCreateIsSet) {
  SqliteEndpoint missing({dir_ + "/none.db", false, std::chrono::seconds(1)});
  Status status = missing.probe(Deadline::never());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  SqliteEndpoint later({dir_ + "/none.db", true, std::chrono::seconds(1)});
  EXPECT_TRUE(later.probe(Deadline::never()));
}

TEST_F(SqliteEndpointTest, ATextFileIsNotADatabase) {
  std::ofstream(dir_ + "/notes.db") << "this is not a database, just some text that is long "
                                       "enough to fill the header of a sqlite file.........";
  SqliteEndpoint endpoint({dir_ + "/notes.db", false, std::chrono::seconds(1)});
  Status status = endpoint.probe(Deadline::never());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(status.error().message().find("not a usable SQLite database"), std::string::npos);
}

}  // namespace
}  // namespace megasync::connectors::sqlite
