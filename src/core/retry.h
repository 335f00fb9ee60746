// Exponential backoff with full jitter for retryable failures.
//
// delay(attempt) = random in [base/2, base] where base = min(max, initial *
// multiplier^(attempt-1)).
// ("equal jitter": never zero, so a storm of retries still spreads out.)
//
// Thread-safety: BackoffPolicy is a value; the random source is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace megasync {

struct BackoffPolicy {
  int max_attempts = 5;  // attempts per run, the first one included; 1 = no retry
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{60'000};
  double multiplier = 2.0;

  // The wait before attempt `attempt` (2 = the first retry). `rng` supplies the jitter.
  std::chrono::milliseconds delay(int attempt, std::mt19937_64& rng) const;
  // The upper bound of delay(attempt), without jitter.
  std::chrono::milliseconds ceiling(int attempt) const;
};

}  // namespace megasync
