#include "engine/retry_loop.h"

namespace megasync::engine {

RetryOutcome run_with_retry(const BackoffPolicy& policy, std::mt19937_64& rng,
                            const std::function<Status(int attempt)>& attempt,
                            const std::function<bool(std::chrono::milliseconds)>& wait) {
  RetryOutcome outcome{ok(), 0};
  const int max_attempts = policy.max_attempts < 1 ? 1 : policy.max_attempts;
  for (int n = 1; n <= max_attempts; ++n) {
    outcome.attempts = n;
    outcome.status = attempt(n);
    if (outcome.status || !outcome.status.error().retryable() || n == max_attempts) {
      break;
    }
    if (!wait(policy.delay(n + 1, rng))) {
      break;
    }
  }
  return outcome;
}

}  // namespace megasync::engine
