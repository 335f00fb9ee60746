// Retrying one run's attempts with backoff. Pure control flow: the attempt and
// the wait are injected, so tests drive it without threads or sleeps.
#pragma once

#include <chrono>
#include <functional>
#include <random>

#include "core/error.h"
#include "core/retry.h"

namespace megasync::engine {

struct RetryOutcome {
  Status status;     // the last attempt's result
  int attempts = 0;  // how many were made
};

// Calls attempt(1), attempt(2), ... until one succeeds, fails with a
// non-retryable error, max_attempts is reached, or wait() returns false (the
// run was cancelled while waiting). wait(delay) waits `delay` before a retry.
RetryOutcome run_with_retry(const BackoffPolicy& policy, std::mt19937_64& rng,
                            const std::function<Status(int attempt)>& attempt,
                            const std::function<bool(std::chrono::milliseconds)>& wait);

}  // namespace megasync::engine
