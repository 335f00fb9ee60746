#include "connectors/sqlite/db.h"

#include <cmath>

namespace megasync::connectors::sqlite {

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out.push_back(c);
    if (c == '"') {
      out.push_back('"');
    }
  }
  out.push_back('"');
  return out;
}

std::string quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out.push_back(c);
    if (c == '\'') {
      out.push_back('\'');
    }
  }
  out.push_back('\'');
  return out;
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_finalize(stmt_);
  }
}

Status Statement::bind(int index, const Value& value) {
  struct Binder {
    sqlite3_stmt* stmt;
    int index;
    int operator()(std::monostate) const { return sqlite3_bind_null(stmt, index); }
    int operator()(bool b) const { return sqlite3_bind_int64(stmt, index, b ? 1 : 0); }
    int operator()(std::int64_t i) const { return sqlite3_bind_int64(stmt, index, i); }
    int operator()(double d) const {
      if (std::isnan(d)) {
        // SQLite would store a NULL; the text keeps the value (see compare.cc).
        return sqlite3_bind_text(stmt, index, "NaN", 3, SQLITE_STATIC);
      }
      return sqlite3_bind_double(stmt, index, d);
    }
    int operator()(const std::string& s) const {
      return sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    int operator()(const Bytes& b) const {
      return sqlite3_bind_blob64(stmt, index, b.data.data(), b.data.size(), SQLITE_TRANSIENT);
    }
  };
  const int rc = std::visit(Binder{stmt_, index}, value);
  if (rc != SQLITE_OK) {
    return fail(db_->error(rc));
  }
  return ok();
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  Error error = db_->error(rc);
  sqlite3_reset(stmt_);
  return fail(std::move(error));
}

Status Statement::run() {
  while (true) {
    Result<bool> row = step();
    if (!row) {
      return fail(row.error());
    }
    if (!*row) {
      return ok();
    }
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Value Statement::column(int index) const {
  switch (sqlite3_column_type(stmt_, index)) {
    case SQLITE_INTEGER:
      return std::int64_t{sqlite3_column_int64(stmt_, index)};
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt_, index);
    case SQLITE_TEXT:
      return column_text(index);
    case SQLITE_BLOB: {
      const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
      const int size = sqlite3_column_bytes(stmt_, index);
      return Bytes{std::string(data == nullptr ? "" : data, data == nullptr ? 0 : size)};
    }
    default:
      return std::monostate{};
  }
}

std::string Statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  const int size = sqlite3_column_bytes(stmt_, index);
  return text == nullptr ? std::string() : std::string(text, size);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, bool create,
                                                     int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    // A missing file without `create` will not appear by retrying.
    const bool missing = rc == SQLITE_CANTOPEN && !create;
    return make_error(missing ? ErrorCode::kNotFound : ErrorCode::kRetryable,
                      "cannot open {}: {}{}", path, message,
                      missing ? " (create it, or set create: true on the endpoint)" : "");
  }
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 0);
  return std::unique_ptr<Connection>(new Connection(path, raw));
}

Connection::~Connection() {
  sqlite3_close_v2(handle_);
}

Result<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc =
      sqlite3_prepare_v2(handle_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return fail(error(rc));
  }
  return Statement(this, stmt);
}

Status Connection::exec(const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(handle_, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) {
    return fail(error(rc));
  }
  return ok();
}

Error Connection::error(int rc) const {
  const int primary = rc & 0xff;
  const bool transient = primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
                         primary == SQLITE_IOERR || primary == SQLITE_FULL ||
                         primary == SQLITE_PROTOCOL;
  return Error(transient ? ErrorCode::kRetryable : ErrorCode::kPermanent,
               fmt::format("{}: {}", path_, sqlite3_errmsg(handle_)));
}

}  // namespace megasync::connectors::sqlite
