// A thin RAII layer over the sqlite3 C API for the sqlite connector's record
// source and sink: one connection, prepared statements, Value binding and
// reading, and the mapping of SQLite result codes to Error values.
//
// Thread-safety: none. A Connection is owned by one source or sink, which the
// engine uses from one thread at a time.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/value.h"

namespace megasync::connectors::sqlite {

// "name" with embedded quotes doubled: safe to splice into SQL.
std::string quote_ident(std::string_view name);
// 'text' with embedded quotes doubled.
std::string quote_literal(std::string_view text);

class Connection;

// One prepared statement. Finalized by the destructor.
class Statement {
 public:
  Statement(Connection* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&&) = delete;

  // Parameters are 1-based. Booleans bind as 0/1.
  Status bind(int index, const Value& value);
  // true: a row is available; false: done. Errors are classified by Connection::error.
  Result<bool> step();
  // Steps to completion, ignoring rows.
  Status run();
  void reset();

  int column_count() const { return sqlite3_column_count(stmt_); }
  // The column as stored (integer, real, text, blob or null).
  Value column(int index) const;
  std::int64_t column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }
  std::string column_text(int index) const;

 private:
  Connection* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens `path` read-write (creating it when `create`), with `busy_timeout_ms`.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, bool create,
                                                  int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<Statement> prepare(std::string_view sql);
  Status exec(const std::string& sql);
  // "<path>: <sqlite message>", retryable for busy/locked/io, permanent otherwise.
  Error error(int rc) const;
  const std::string& path() const { return path_; }

 private:
  Connection(std::string path, sqlite3* handle) : path_(std::move(path)), handle_(handle) {}
  std::string path_;
  sqlite3* handle_;
};

}  // namespace megasync::connectors::sqlite
