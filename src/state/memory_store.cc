#include "state/memory_store.h"

#include <cstdio>
#include <cstdlib>

#include "state/sqlite_store_internal.h"

namespace megasync::state {

std::unique_ptr<StateStore> open_memory_store() {
  return open_memory_store([] { return std::chrono::system_clock::now(); });
}

std::unique_ptr<StateStore> open_memory_store(std::function<WallTime()> clock) {
  SqliteOpenOptions options;
  options.clock = std::move(clock);
  auto store = open_sqlite_store(":memory:", options);
  if (!store) {
    // Opening a memory database touches no file; failing is a broken build.
    std::fprintf(stderr, "open_memory_store: %s\n", store.error().message().c_str());
    std::abort();
  }
  return std::move(*store);
}

}  // namespace megasync::state
