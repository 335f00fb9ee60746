#include "state/sqlite_store.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "state/migrations.h"
#include "state/sqlite_store_impl.h"
#include "state/sqlite_store_internal.h"

namespace megasync::state {

namespace {

constexpr const char* kMemoryPath = ":memory:";

// SQLite would otherwise create a file in a directory we did not mean (an
// empty path is a private temp database) or report only "unable to open
// database file"; say what is wrong and what to do instead.
Status check_path(const std::string& path) {
  if (path.empty()) {
    return make_error(ErrorCode::kInvalidConfig, "state store path is empty; set state.path");
  }
  if (path == kMemoryPath) {
    return ok();
  }
  namespace fs = std::filesystem;
  std::error_code ignored;
  fs::path file(path);
  if (fs::is_directory(file, ignored)) {
    return make_error(ErrorCode::kPermanent,
                      "state store {} is a directory; point state.path at a file such as {}", path,
                      (file / "megasync.db").string());
  }
  fs::path directory = file.parent_path();
  if (directory.empty()) {
    directory = ".";
  }
  if (!fs::is_directory(directory, ignored)) {
    return make_error(ErrorCode::kPermanent,
                      "state store {}: directory {} does not exist; create it or point "
                      "state.path at another file",
                      path, directory.string());
  }
  return ok();
}

// WAL lets `megasync status` read while the daemon writes. synchronous=FULL
// (not NORMAL) fsyncs the WAL on every commit: a checkpoint reported written
// must survive a power cut, and the writes are small and infrequent.
Status configure_for_writing(Database& db, bool memory) {
  auto journal = db.query("PRAGMA journal_mode=WAL", "enable WAL");
  if (!journal) {
    return fail(std::move(journal.error()));
  }
  auto row = journal->step();
  if (!row) {
    return fail(std::move(row.error()));
  }
  // A memory database has no WAL and keeps journal_mode "memory".
  std::string mode = *row ? journal->column_text(0) : "";
  if (!memory && mode != "wal") {
    return make_error(ErrorCode::kPermanent,
                      "state store {}: cannot use WAL journal mode (got \"{}\"); put the store "
                      "on a local filesystem",
                      db.path(), mode);
  }
  return db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", "configure connection");
}

}  // namespace

int latest_sqlite_schema_version() {
  return migrations().back().version;
}

Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path) {
  return open_sqlite_store(path, SqliteOpenOptions{});
}

Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path,
                                                      const SqliteOpenOptions& options) {
  if (auto checked = check_path(path); !checked) {
    return fail(std::move(checked.error()));
  }
  int flags =
      options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  auto db = Database::open(path, flags);
  if (!db) {
    return fail(std::move(db.error()));
  }
  // The first read of the file: a text file or a foreign database fails here.
  auto version = read_schema_version(**db);
  if (!version) {
    return fail(std::move(version.error()));
  }
  const int latest = latest_sqlite_schema_version();
  if (*version > latest) {
    return make_error(ErrorCode::kPermanent,
                      "state store {} was written by a newer megasync (schema {}, this build "
                      "knows {}); upgrade megasync or point state.path at another file",
                      path, *version, latest);
  }
  auto clock = options.clock ? options.clock : [] { return std::chrono::system_clock::now(); };
  if (!options.read_only) {
    // SQLITE_OPEN_READWRITE quietly falls back to read-only for a
    // write-protected file; the daemon would then fail on its first checkpoint.
    if ((*db)->read_only()) {
      return make_error(ErrorCode::kPermanent,
                        "state store {} is read-only (file permissions or a read-only "
                        "filesystem); megasync must be able to write it: fix the permissions "
                        "or point state.path at another file",
                        path);
    }
    if (auto configured = configure_for_writing(**db, path == kMemoryPath); !configured) {
      return fail(std::move(configured.error()));
    }
    if (auto migrated = migrate(**db, std::min(options.target_version, latest), clock());
        !migrated) {
      return fail(std::move(migrated.error()));
    }
  }
  return std::make_unique<SqliteStore>(std::move(*db), std::move(clock));
}

Result<std::optional<Checkpoint>> SqliteStore::get_checkpoint(const std::string& job,
                                                              const std::string& target) {
  std::lock_guard lock(mutex_);
  auto query =
      db_->query("SELECT position, updated_at FROM checkpoints WHERE job = ?1 AND target = ?2",
                 fmt::format("get checkpoint {}/{}", job, target));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, job).bind(2, target);
  auto row = query->step();
  if (!row) {
    return fail(std::move(row.error()));
  }
  if (!*row) {
    return std::optional<Checkpoint>();
  }
  return Checkpoint{job, target, query->column_text(0), from_millis(query->column_int64(1))};
}

Status SqliteStore::put_checkpoint(const std::string& job, const std::string& target,
                                   const std::string& position) {
  std::lock_guard lock(mutex_);
  if (position.empty()) {
    auto erase = db_->query("DELETE FROM checkpoints WHERE job = ?1 AND target = ?2",
                            fmt::format("delete checkpoint {}/{}", job, target));
    if (!erase) {
      return fail(std::move(erase.error()));
    }
    erase->bind(1, job).bind(2, target);
    return erase->run();
  }
  auto query = db_->query(
      "INSERT INTO checkpoints (job, target, position, updated_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (job, target) DO UPDATE SET position = excluded.position, "
      "updated_at = excluded.updated_at",
      fmt::format("put checkpoint {}/{}", job, target));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, job).bind(2, target).bind(3, position).bind(4, to_millis(clock_()));
  return query->run();
}

Result<std::vector<Checkpoint>> SqliteStore::list_checkpoints(const std::string& job) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "SELECT job, target, position, updated_at FROM checkpoints "
      "WHERE ?1 = '' OR job = ?1 ORDER BY job, target",
      fmt::format("list checkpoints {}", job.empty() ? "(all jobs)" : job));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, job);
  std::vector<Checkpoint> checkpoints;
  for (;;) {
    auto row = query->step();
    if (!row) {
      return fail(std::move(row.error()));
    }
    if (!*row) {
      return checkpoints;
    }
    checkpoints.push_back(Checkpoint{query->column_text(0), query->column_text(1),
                                     query->column_text(2), from_millis(query->column_int64(3))});
  }
}

Status SqliteStore::delete_checkpoints(const std::string& job) {
  std::lock_guard lock(mutex_);
  const std::string operation = fmt::format("delete checkpoints {}", job);
  auto transaction = Transaction::begin(*db_, operation);
  if (!transaction) {
    return fail(std::move(transaction.error()));
  }
  for (const char* sql :
       {"DELETE FROM checkpoints WHERE job = ?1", "DELETE FROM object_index WHERE job = ?1"}) {
    auto query = db_->query(sql, operation);
    if (!query) {
      return fail(std::move(query.error()));
    }
    query->bind(1, job);
    if (Status done = query->run(); !done) {
      return done;
    }
  }
  return transaction->commit();
}

namespace {

std::int64_t to_nanos(WallTime time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

WallTime from_nanos(std::int64_t nanos) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos)));
}

}  // namespace

Result<std::vector<ObjectIndexEntry>> SqliteStore::load_object_index(const std::string& job,
                                                                     const std::string& endpoint) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "SELECT path, etag, size, mtime_ns, sha256 FROM object_index "
      "WHERE job = ?1 AND endpoint = ?2",
      fmt::format("load object index {}/{}", job, endpoint));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, job).bind(2, endpoint);
  std::vector<ObjectIndexEntry> entries;
  for (;;) {
    auto row = query->step();
    if (!row) {
      return fail(std::move(row.error()));
    }
    if (!*row) {
      return entries;
    }
    entries.push_back(ObjectIndexEntry{query->column_text(0), query->column_text(1),
                                       static_cast<std::uint64_t>(query->column_int64(2)),
                                       from_nanos(query->column_int64(3)), query->column_text(4)});
  }
}

Status SqliteStore::update_object_index(const std::string& job, const std::string& endpoint,
                                        const std::vector<ObjectIndexEntry>& put,
                                        const std::vector<std::string>& removed) {
  if (put.empty() && removed.empty()) {
    return ok();
  }
  std::lock_guard lock(mutex_);
  const std::string operation = fmt::format("update object index {}/{}", job, endpoint);
  auto transaction = Transaction::begin(*db_, operation);
  if (!transaction) {
    return fail(std::move(transaction.error()));
  }
  auto insert = db_->query(
      "INSERT INTO object_index (job, endpoint, path, etag, size, mtime_ns, sha256) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (job, endpoint, path) DO UPDATE SET "
      "etag = excluded.etag, size = excluded.size, mtime_ns = excluded.mtime_ns, "
      "sha256 = excluded.sha256",
      operation);
  if (!insert) {
    return fail(std::move(insert.error()));
  }
  for (const ObjectIndexEntry& entry : put) {
    insert->reset();
    insert->bind(1, job)
        .bind(2, endpoint)
        .bind(3, entry.path)
        .bind(4, entry.etag)
        .bind(5, static_cast<std::int64_t>(entry.size))
        .bind(6, to_nanos(entry.mtime))
        .bind(7, entry.sha256);
    if (Status done = insert->run(); !done) {
      return done;
    }
  }
  auto erase = db_->query("DELETE FROM object_index WHERE job = ?1 AND endpoint = ?2 AND path = ?3",
                          operation);
  if (!erase) {
    return fail(std::move(erase.error()));
  }
  for (const std::string& path : removed) {
    erase->reset();
    erase->bind(1, job).bind(2, endpoint).bind(3, path);
    if (Status done = erase->run(); !done) {
      return done;
    }
  }
  return transaction->commit();
}

Result<std::int64_t> SqliteStore::prune(WallTime events_before, std::int64_t events_max,
                                        WallTime runs_before) {
  std::lock_guard lock(mutex_);
  const std::string operation = "prune";
  auto transaction = Transaction::begin(*db_, operation);
  if (!transaction) {
    return fail(std::move(transaction.error()));
  }
  std::int64_t deleted = 0;
  auto remove = [&](const std::string& sql, std::int64_t value) -> Status {
    auto query = db_->query(sql, operation);
    if (!query) {
      return fail(std::move(query.error()));
    }
    query->bind(1, value);
    if (auto done = query->run(); !done) {
      return done;
    }
    deleted += db_->changes();
    return ok();
  };
  if (auto done = remove("DELETE FROM events WHERE time < ?1", to_millis(events_before)); !done) {
    return fail(std::move(done.error()));
  }
  // events_max <= 0 means "no count limit", the usual reading of 0 in config.
  if (events_max > 0) {
    // The id of the newest event beyond the limit; NULL (nothing deleted)
    // when there are no more than events_max events.
    auto done = remove(
        "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 "
        "OFFSET ?1)",
        events_max);
    if (!done) {
      return fail(std::move(done.error()));
    }
  }
  // A run still in progress is kept however old: it is the job's live state.
  auto done = remove("DELETE FROM runs WHERE started_at < ?1 AND outcome <> 'running'",
                     to_millis(runs_before));
  if (!done) {
    return fail(std::move(done.error()));
  }
  if (auto committed = transaction->commit(); !committed) {
    return fail(std::move(committed.error()));
  }
  return deleted;
}

Status SqliteStore::check_writable() {
  std::lock_guard lock(mutex_);
  const std::string operation = "check writable";
  std::string value = fmt::format("{} #{}", to_millis(clock_()), ++heartbeats_);
  auto write = db_->query(
      "INSERT INTO meta (key, value) VALUES ('heartbeat', ?1) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      operation);
  if (!write) {
    return fail(std::move(write.error()));
  }
  write->bind(1, value);
  if (auto written = write->run(); !written) {
    return written;
  }
  auto read = db_->query("SELECT value FROM meta WHERE key = 'heartbeat'", operation);
  if (!read) {
    return fail(std::move(read.error()));
  }
  auto row = read->step();
  if (!row) {
    return fail(std::move(row.error()));
  }
  std::string stored = *row ? read->column_text(0) : "";
  if (stored != value) {
    return make_error(ErrorCode::kPermanent,
                      "state store {}: check writable: wrote heartbeat \"{}\" but read back "
                      "\"{}\"",
                      db_->path(), value, stored);
  }
  return ok();
}

Result<int> SqliteStore::schema_version() {
  std::lock_guard lock(mutex_);
  return read_schema_version(*db_);
}

}  // namespace megasync::state
