#include "state/migrations.h"

#include <array>

namespace megasync::state {

namespace {

// Append only: a released migration is never edited, because files in the
// field already record it as applied. Change the schema with a new step.
constexpr std::array kMigrations = {
    Migration{1, "create checkpoints, runs, events, audit and meta", R"sql(
CREATE TABLE checkpoints (
  job        TEXT    NOT NULL,
  target     TEXT    NOT NULL,
  position   TEXT    NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (job, target)
);
-- AUTOINCREMENT so ids are never reused after pruning: API clients page
-- events with after_id, and a reused id would hide new events from them.
CREATE TABLE runs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  job         TEXT    NOT NULL,
  "trigger"   TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  outcome     TEXT    NOT NULL,
  attempts    INTEGER NOT NULL,
  records     INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_job_id ON runs (job, id);
CREATE TABLE events (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  type     TEXT    NOT NULL,
  severity TEXT    NOT NULL,
  job      TEXT    NOT NULL DEFAULT '',
  endpoint TEXT    NOT NULL DEFAULT '',
  time     INTEGER NOT NULL,
  data     TEXT    NOT NULL DEFAULT '{}'
);
CREATE TABLE audit (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  time    INTEGER NOT NULL,
  actor   TEXT    NOT NULL,
  action  TEXT    NOT NULL,
  target  TEXT    NOT NULL,
  outcome TEXT    NOT NULL,
  remote  TEXT    NOT NULL DEFAULT ''
);
-- Small key/value facts about the store itself (the check_writable heartbeat).
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
    // Event queries filter by type or job and page newest first; an index on
    // one column also holds the rowid, so these serve "type = ? ORDER BY id".
    // time and started_at keep prune() from scanning whole tables.
    Migration{2, "index events by type, job and time; runs by start time", R"sql(
CREATE INDEX events_type ON events (type);
CREATE INDEX events_job ON events (job);
CREATE INDEX events_time ON events (time);
CREATE INDEX runs_started_at ON runs (started_at);
)sql"},
    Migration{3, "object index: metadata of listed objects, by job and endpoint", R"sql(
CREATE TABLE object_index (
  job      TEXT    NOT NULL,
  endpoint TEXT    NOT NULL,
  path     TEXT    NOT NULL,
  etag     TEXT    NOT NULL,
  size     INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  sha256   TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (job, endpoint, path)
) WITHOUT ROWID;
)sql"},
    // `change` is the dead_letter_codec.h JSON of the change and its schema;
    // collection and key_text are copies for listing without decoding it.
    Migration{4, "dead letters: changes a target refused, by job", R"sql(
CREATE TABLE dead_letters (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  job        TEXT    NOT NULL,
  target     TEXT    NOT NULL,
  time       INTEGER NOT NULL,
  collection TEXT    NOT NULL,
  key_text   TEXT    NOT NULL,
  attempts   INTEGER NOT NULL,
  error      TEXT    NOT NULL,
  change     TEXT    NOT NULL
);
CREATE INDEX dead_letters_job ON dead_letters (job, id);
)sql"},
};

// Created in the same transaction as migration 1, so a file never holds a
// schema_version table without the tables it describes.
constexpr const char* kCreateVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version    INTEGER NOT NULL PRIMARY KEY,
  applied_at INTEGER NOT NULL
)
)sql";

Result<bool> has_table(Database& db, const std::string& name) {
  auto query =
      db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", "read schema");
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, name);
  return query->step();
}

Result<int> max_version(Database& db) {
  auto query = db.query("SELECT COALESCE(MAX(version), 0) FROM schema_version", "read schema");
  if (!query) {
    return fail(std::move(query.error()));
  }
  auto row = query->step();
  if (!row) {
    return fail(std::move(row.error()));
  }
  return static_cast<int>(query->column_int64(0));
}

}  // namespace

std::span<const Migration> migrations() {
  return kMigrations;
}

Result<int> read_schema_version(Database& db) {
  auto versioned = has_table(db, "schema_version");
  if (!versioned) {
    return fail(std::move(versioned.error()));
  }
  if (*versioned) {
    return max_version(db);
  }
  auto query =
      db.query("SELECT COUNT(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'", "read schema");
  if (!query) {
    return fail(std::move(query.error()));
  }
  auto row = query->step();
  if (!row) {
    return fail(std::move(row.error()));
  }
  if (query->column_int64(0) > 0) {
    return make_error(ErrorCode::kPermanent,
                      "state store {} is a SQLite database but not a megasync state store (it "
                      "has tables but no schema_version); point state.path at another file",
                      db.path());
  }
  return 0;
}

Status migrate(Database& db, int target, WallTime now) {
  for (const Migration& step : kMigrations) {
    if (step.version > target) {
      break;
    }
    std::string operation =
        fmt::format("migrate to schema {} ({})", step.version, step.description);
    auto transaction = Transaction::begin(db, operation);
    if (!transaction) {
      return fail(std::move(transaction.error()));
    }
    if (auto created = db.exec(kCreateVersionTable, operation); !created) {
      return created;
    }
    auto current = max_version(db);
    if (!current) {
      return fail(std::move(current.error()));
    }
    if (*current >= step.version) {
      continue;  // applied earlier, or by another process while we waited for the lock
    }
    if (auto applied = db.exec(step.sql, operation); !applied) {
      return applied;
    }
    auto record =
        db.query("INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)", operation);
    if (!record) {
      return fail(std::move(record.error()));
    }
    record->bind(1, std::int64_t{step.version}).bind(2, to_millis(now));
    if (auto recorded = record->run(); !recorded) {
      return recorded;
    }
    if (auto committed = transaction->commit(); !committed) {
      return committed;
    }
  }
  return ok();
}

}  // namespace megasync::state
