#include "core/retry.h"

#include <algorithm>
#include <cmath>

namespace megasync {

std::chrono::milliseconds BackoffPolicy::ceiling(int attempt) const {
  const int exponent = std::max(0, attempt - 2);
  const double base = static_cast<double>(initial.count()) * std::pow(multiplier, exponent);
  const double capped = std::min(base, static_cast<double>(max.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

std::chrono::milliseconds BackoffPolicy::delay(int attempt, std::mt19937_64& rng) const {
  const std::int64_t top = ceiling(attempt).count();
  if (top <= 1) {
    return std::chrono::milliseconds(top);
  }
  std::uniform_int_distribution<std::int64_t> pick(top / 2, top);
  return std::chrono::milliseconds(pick(rng));
}

}  // namespace megasync
