#include "sync/objects/pool.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace megasync::sync::objects {

void parallel_for(std::size_t count, int threads, const CancelToken& cancel,
                  const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    while (!cancel.cancelled()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= count) {
        return;
      }
      fn(i);
    }
  };
  const std::size_t n =
      std::min<std::size_t>(count, static_cast<std::size_t>(std::max(threads, 1)));
  std::vector<std::thread> pool;
  pool.reserve(n);
  for (std::size_t t = 0; t < n; ++t) {
    pool.emplace_back(worker);
  }
  for (std::thread& thread : pool) {
    thread.join();
  }
}

}  // namespace megasync::sync::objects
