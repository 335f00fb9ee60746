// The schema of the SQLite state store as an ordered list of numbered
// migrations, and the code that applies them.
//
// The applied version is recorded in a `schema_version` table, one row per
// migration. A table rather than PRAGMA user_version: its existence tells a
// megasync store from someone else's SQLite file, each row records when that
// step ran (useful when supporting an upgraded install), and `.schema` shows it.
//
// Thread-safety: none; called by SqliteStore under its mutex (or before the
// store is shared).
#pragma once

#include <span>

#include "core/error.h"
#include "state/sqlite_db.h"

namespace megasync::state {

struct Migration {
  int version;              // 1, 2, ...: dense and increasing
  const char* description;  // for error messages
  const char* sql;          // run inside the step's transaction
};

// Every migration this build knows, oldest first.
std::span<const Migration> migrations();

// The newest version recorded in the file; 0 for a fresh (empty) database.
// Fails with kPermanent when the file holds tables but no schema_version (it
// belongs to another program).
Result<int> read_schema_version(Database& db);

// Applies, each in its own transaction, every migration newer than the file's
// version up to and including `target`. Safe against a second process migrating
// the same file at the same time: the version is re-read under the write lock.
Status migrate(Database& db, int target, WallTime now);

}  // namespace megasync::state
