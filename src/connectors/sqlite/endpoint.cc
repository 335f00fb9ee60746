#include "connectors/sqlite/endpoint.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <memory>

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
  const int query = sqlite3_exec(db.get(), "SELECT count(*) FROM sqlite_master", nullptr, nullptr,
                                 &message);
  if (query != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errstr(query);
    sqlite3_free(message);
    const bool busy = query == SQLITE_BUSY || query == SQLITE_LOCKED;
    return make_error(busy ? ErrorCode::kRetryable : ErrorCode::kPermanent,
                      "{} is not a usable SQLite database: {}", options_.path, text);
  }
  return ok();
}

}  // namespace megasync::connectors::sqlite
