// A thin RAII layer over the sqlite3 C API for the state store: one connection,
// a cache of prepared statements, and the mapping of SQLite result codes to
// Error values whose messages name the store path and the operation.
//
// Thread-safety: none. Database is owned by SqliteStore, which holds its mutex
// around every call (sqlite3_errmsg is per connection, so the message must be
// read under the same lock as the failing call).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "state/state_store.h"

namespace megasync::state {

// Times are stored as integer milliseconds since the Unix epoch (UTC).
std::int64_t to_millis(WallTime time);
WallTime from_millis(std::int64_t millis);

class Database;

// One use of a cached prepared statement. Binds, steps, reads columns; the
// destructor resets the statement so no read transaction outlives the call
// (an unreset SELECT would pin the WAL and block checkpoints).
class Query {
 public:
  Query(Database* db, sqlite3_stmt* stmt, std::string operation);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query(Query&& other) noexcept;
  Query& operator=(Query&&) = delete;

  // Parameters are 1-based. A failed bind is remembered and reported by step().
  Query& bind(int index, std::int64_t value);
  Query& bind(int index, std::string_view value);
  Query& bind(int index, std::optional<std::int64_t> value);

  // true: a row is available; false: the statement is done.
  Result<bool> step();
  // Steps to completion, ignoring rows; for INSERT/UPDATE/DELETE.
  Status run();
  // Makes the statement ready to run again with new bindings.
  void reset();

  std::int64_t column_int64(int index) const;
  std::string column_text(int index) const;
  std::optional<std::int64_t> column_optional_int64(int index) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_;
  std::string operation_;
  int bind_rc_ = SQLITE_OK;
};

class Database {
 public:
  // Opens `path` with sqlite3_open_v2 `flags`. The handle is closed on failure.
  static Result<std::unique_ptr<Database>> open(const std::string& path, int flags);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A cached statement for `sql`, prepared on first use. `operation` names
  // what the caller is doing, for error messages ("put checkpoint orders/pg").
  Result<Query> query(const std::string& sql, std::string operation);
  // Runs one or more statements without results (DDL, PRAGMA, BEGIN/COMMIT).
  Status exec(const std::string& sql, std::string_view operation);

  // "state store <path>: <operation>: <sqlite message><hint>", classified by `rc`.
  Error error(int rc, std::string_view operation) const;

  std::int64_t changes() const { return sqlite3_changes64(handle_); }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(handle_); }
  bool read_only() const { return sqlite3_db_readonly(handle_, "main") == 1; }
  const std::string& path() const { return path_; }

 private:
  Database(std::string path, sqlite3* handle) : path_(std::move(path)), handle_(handle) {}

  std::string path_;
  sqlite3* handle_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// BEGIN IMMEDIATE on construction (takes the write lock up front, so the busy
// timeout applies instead of a deadlock-prone lock upgrade); rolls back in the
// destructor unless commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> begin(Database& db, std::string_view operation);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;

  Status commit();

 private:
  Transaction(Database* db, std::string_view operation) : db_(db), operation_(operation) {}

  Database* db_;
  std::string operation_;
  bool open_ = true;
};

}  // namespace megasync::state
