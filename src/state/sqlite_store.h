// The embedded state store: one SQLite file in WAL mode.
//
// Created once by the daemon (or a CLI command) and shared by every thread; a
// single connection guarded by a mutex (writes are small; WAL keeps readers from
// other processes, such as `megasync status`, from blocking the daemon).
// Schema migrations run in open(); each one is numbered and recorded in
// `schema_version`; a file from a newer megasync is refused with a clear error.
#pragma once

#include <memory>
#include <string>

#include "state/state_store.h"

namespace megasync::state {

// Opens (creating when missing) the store at `path` and migrates it.
// Fails with kPermanent when the file is not a megasync state store, is from a
// newer version, or cannot be written.
Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path);

// The number of the newest migration this build knows.
int latest_sqlite_schema_version();

}  // namespace megasync::state
