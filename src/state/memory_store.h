// An in-memory state store for unit tests of other modules.
//
// It is the SQLite store on ":memory:" — the same code and SQL as production,
// so a test fake cannot drift from the real behaviour. Nothing survives the
// object. Each call returns an independent, empty, fully migrated store.
//
// Thread-safety: as StateStore; every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>

#include "state/state_store.h"

namespace megasync::state {

// Never fails short of memory exhaustion; aborts if SQLite cannot open a
// memory database (a broken build, not a runtime condition).
std::unique_ptr<StateStore> open_memory_store();

// As above, with `clock` supplying "now" (checkpoint updated_at, the finish
// time of interrupted runs) so tests can assert exact times without sleeping.
std::unique_ptr<StateStore> open_memory_store(std::function<WallTime()> clock);

}  // namespace megasync::state
