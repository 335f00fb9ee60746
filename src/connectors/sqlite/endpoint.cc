#include "connectors/sqlite/endpoint.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include "connectors/sqlite/db.h"
#include "connectors/sqlite/reader.h"
#include "connectors/sqlite/sink.h"
#include "connectors/sqlite/source.h"

namespace megasync::connectors::sqlite {

Status SqliteEndpoint::probe(Deadline /*deadline*/) {
  struct stat st {};
  const bool exists = ::stat(options_.path.c_str(), &st) == 0;
  if (!exists && !options_.create) {
    return make_error(ErrorCode::kNotFound,
                      "database file {} does not exist (create it, or set create: true on the "
                      "endpoint)",
                      options_.path);
  }
  if (!exists) {
    return ok();  // it will be created by the first job that writes to it
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(options_.path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kRetryable, "cannot open {}: {}", options_.path,
                      raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
  }
  sqlite3_busy_timeout(db.get(), static_cast<int>(options_.busy_timeout.count()));
  char* message = nullptr;
  const int query =
      sqlite3_exec(db.get(), "SELECT count(*) FROM sqlite_master", nullptr, nullptr, &message);
  if (query != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errstr(query);
    sqlite3_free(message);
    const bool busy = query == SQLITE_BUSY || query == SQLITE_LOCKED;
    return make_error(busy ? ErrorCode::kRetryable : ErrorCode::kPermanent,
                      "{} is not a usable SQLite database: {}", options_.path, text);
  }
  return ok();
}

Result<std::unique_ptr<RecordSource>> SqliteEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  Result<std::unique_ptr<Connection>> db = Connection::open(
      options_.path, /*create=*/false, static_cast<int>(options_.busy_timeout.count()));
  if (!db) {
    return fail(db.error());
  }
  auto source = std::make_unique<SqliteSource>(std::move(*db), request.job, request.collections);
  // Fails early on a missing table or one without a key, before any trigger exists.
  if (Result<std::vector<CollectionSchema>> schemas = source->describe(); !schemas) {
    return fail(schemas.error());
  }
  return std::unique_ptr<RecordSource>(std::move(source));
}

Result<std::unique_ptr<RecordSink>> SqliteEndpoint::open_record_sink(
    const engine::SinkRequest& request) {
  Result<std::unique_ptr<Connection>> db = Connection::open(
      options_.path, options_.create, static_cast<int>(options_.busy_timeout.count()));
  if (!db) {
    return fail(db.error());
  }
  Result<std::unique_ptr<SqliteSink>> sink =
      SqliteSink::create(std::move(*db), request.job, request.target);
  if (!sink) {
    return fail(sink.error());
  }
  return std::unique_ptr<RecordSink>(std::move(*sink));
}

Result<std::unique_ptr<RecordReader>> SqliteEndpoint::open_record_reader() {
  std::error_code error;
  if (options_.create && !std::filesystem::exists(options_.path, error)) {
    return std::unique_ptr<RecordReader>(std::make_unique<SqliteReader>(nullptr));
  }
  Result<std::unique_ptr<Connection>> db = Connection::open(
      options_.path, /*create=*/false, static_cast<int>(options_.busy_timeout.count()));
  if (!db) {
    return fail(db.error());
  }
  return std::unique_ptr<RecordReader>(std::make_unique<SqliteReader>(std::move(*db)));
}

}  // namespace megasync::connectors::sqlite
