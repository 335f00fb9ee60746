#include "state/sqlite_db.h"

#include <cassert>
#include <utility>

namespace megasync::state {

namespace {

constexpr int kBusyTimeoutMs = 5000;

// BUSY and LOCKED clear when the other writer finishes; FULL clears when space
// is freed (pruning, an operator). Everything else — I/O errors, corruption, a
// read-only file — needs a human, so retrying would only hide it.
ErrorCode classify(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
      return ErrorCode::kRetryable;
    default:
      return ErrorCode::kPermanent;
  }
}

std::string_view hint(int rc) {
  switch (rc & 0xff) {
    case SQLITE_READONLY:
      return " (the file or its filesystem is read-only; megasync must be able to write its "
             "state store)";
    case SQLITE_NOTADB:
      return " (not a SQLite database; move the file away or point state.path at another file)";
    case SQLITE_CORRUPT:
      return " (the file is damaged; restore it from a backup or point state.path at a new file)";
    case SQLITE_CANTOPEN:
      return " (check that the directory exists and is writable)";
    case SQLITE_FULL:
      return " (free disk space)";
    default:
      return "";
  }
}

}  // namespace

std::int64_t to_millis(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

WallTime from_millis(std::int64_t millis) {
  return WallTime(
      std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(millis)));
}

Query::Query(Database* db, sqlite3_stmt* stmt, std::string operation)
    : db_(db), stmt_(stmt), operation_(std::move(operation)) {}

Query::Query(Query&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      operation_(std::move(other.operation_)),
      bind_rc_(other.bind_rc_) {}

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Query& Query::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
  return *this;
}

Query& Query::bind(int index, std::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies the text, so callers may pass temporaries.
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
  return *this;
}

Query& Query::bind(int index, std::optional<std::int64_t> value) {
  if (value) {
    return bind(index, *value);
  }
  int rc = sqlite3_bind_null(stmt_, index);
  if (bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
  return *this;
}

Result<bool> Query::step() {
  if (bind_rc_ != SQLITE_OK) {
    return fail(db_->error(bind_rc_, operation_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return fail(db_->error(rc, operation_));
}

Status Query::run() {
  for (;;) {
    auto row = step();
    if (!row) {
      return fail(std::move(row.error()));
    }
    if (!*row) {
      return ok();
    }
  }
}

void Query::reset() {
  sqlite3_reset(stmt_);
  bind_rc_ = SQLITE_OK;
}

std::int64_t Query::column_int64(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::string Query::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}

std::optional<std::int64_t> Query::column_optional_int64(int index) const {
  if (sqlite3_column_type(stmt_, index) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_int64(stmt_, index);
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path, int flags) {
  sqlite3* handle = nullptr;
  // NOMUTEX: SqliteStore serialises every call with its own mutex.
  int rc = sqlite3_open_v2(path.c_str(), &handle, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close_v2(handle);
    return make_error(classify(rc), "state store {}: open: {}{}", path, message, hint(rc));
  }
  sqlite3_extended_result_codes(handle, 1);
  // Another process (`megasync status`, `megasync verify`) may hold the lock
  // briefly; wait for it rather than fail. Writes take milliseconds, so 5 s
  // only runs out when something is wrong.
  sqlite3_busy_timeout(handle, kBusyTimeoutMs);
  return std::unique_ptr<Database>(new Database(path, handle));
}

Database::~Database() {
  for (auto& [sql, stmt] : statements_) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(handle_);
}

Result<Query> Database::query(const std::string& sql, std::string operation) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(handle_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return fail(error(rc, operation));
    }
    it = statements_.emplace(sql, stmt).first;
  }
  return Query(this, it->second, std::move(operation));
}

Status Database::exec(const std::string& sql, std::string_view operation) {
  int rc = sqlite3_exec(handle_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return fail(error(rc, operation));
  }
  return ok();
}

Error Database::error(int rc, std::string_view operation) const {
  // The connection's message is more specific ("no such table: x") but only
  // describes `rc` when it was the last call to fail on this connection.
  bool same = (sqlite3_extended_errcode(handle_) & 0xff) == (rc & 0xff);
  std::string message = same ? sqlite3_errmsg(handle_) : sqlite3_errstr(rc);
  return Error(classify(rc),
               fmt::format("state store {}: {}: {}{}", path_, operation, message, hint(rc)));
}

Result<Transaction> Transaction::begin(Database& db, std::string_view operation) {
  if (auto begun = db.exec("BEGIN IMMEDIATE", operation); !begun) {
    return fail(std::move(begun.error()));
  }
  return Transaction(&db, operation);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(other.db_),
      operation_(std::move(other.operation_)),
      open_(std::exchange(other.open_, false)) {}

Transaction::~Transaction() {
  if (open_) {
    // Best effort: if ROLLBACK fails the connection already rolled back itself.
    (void)db_->exec("ROLLBACK", operation_);
  }
}

Status Transaction::commit() {
  assert(open_);
  auto committed = db_->exec("COMMIT", operation_);
  if (committed) {
    open_ = false;
  }
  return committed;
}

}  // namespace megasync::state
