// Extra ways to open the SQLite state store, for tests and tools. Production
// code calls open_sqlite_store(path) from sqlite_store.h.
//
// Thread-safety: as for open_sqlite_store.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "state/sqlite_store.h"

namespace megasync::state {

struct SqliteOpenOptions {
  // Migrate only up to this version (tests build files as an older megasync
  // wrote them). Values above latest_sqlite_schema_version() mean latest.
  int target_version = latest_sqlite_schema_version();
  // Open with SQLITE_OPEN_READONLY and apply no migrations; every write fails.
  // Lets a test see how a store on a read-only file or mount behaves even when
  // running as root, who ignores file permissions.
  bool read_only = false;
  // The clock for updated_at, finished_at of interrupted runs, and migrations.
  std::function<WallTime()> clock = [] { return std::chrono::system_clock::now(); };
};

// As open_sqlite_store(path), with `options`.
Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path,
                                                      const SqliteOpenOptions& options);

}  // namespace megasync::state
