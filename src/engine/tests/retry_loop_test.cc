#include "engine/retry_loop.h"

#include <gtest/gtest.h>

#include <vector>

namespace megasync::engine {
namespace {

using std::chrono::milliseconds;

BackoffPolicy policy(int attempts) {
  BackoffPolicy p;
  p.max_attempts = attempts;
  p.initial = milliseconds(100);
  p.max = milliseconds(1000);
  p.multiplier = 2.0;
  return p;
}

Status retryable() {
  return make_error(ErrorCode::kRetryable, "connection reset");
}

TEST(RetryLoop, FirstSuccessMakesOneAttemptAndNoWait) {
  std::mt19937_64 rng(1);
  std::vector<milliseconds> waits;
  RetryOutcome out = run_with_retry(
      policy(5), rng, [](int) { return ok(); },
      [&](milliseconds d) {
        waits.push_back(d);
        return true;
      });
  EXPECT_TRUE(out.status);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_TRUE(waits.empty());
}

TEST(RetryLoop, RetriesRetryableFailuresWithGrowingJitteredBackoff) {
  std::mt19937_64 rng(42);
  std::vector<milliseconds> waits;
  std::vector<int> attempts;
  RetryOutcome out = run_with_retry(
      policy(5), rng,
      [&](int n) {
        attempts.push_back(n);
        return retryable();
      },
      [&](milliseconds d) {
        waits.push_back(d);
        return true;
      });
  EXPECT_FALSE(out.status);
  EXPECT_EQ(out.attempts, 5);
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3, 4, 5}));
  ASSERT_EQ(waits.size(), 4u);
  // Ceilings 100, 200, 400, 800 ms; equal jitter keeps each in [ceiling/2, ceiling].
  const std::int64_t ceilings[] = {100, 200, 400, 800};
  for (std::size_t i = 0; i < waits.size(); ++i) {
    EXPECT_GE(waits[i].count(), ceilings[i] / 2) << i;
    EXPECT_LE(waits[i].count(), ceilings[i]) << i;
  }
}

TEST(RetryLoop, SucceedsAfterTransientFailures) {
  std::mt19937_64 rng(7);
  RetryOutcome out = run_with_retry(
      policy(5), rng, [](int n) { return n < 3 ? retryable() : ok(); },
      [](milliseconds) { return true; });
  EXPECT_TRUE(out.status);
  EXPECT_EQ(out.attempts, 3);
}

TEST(RetryLoop, PermanentFailureIsNotRetried) {
  std::mt19937_64 rng(7);
  int calls = 0;
  RetryOutcome out = run_with_retry(
      policy(5), rng,
      [&](int) {
        ++calls;
        return Status(make_error(ErrorCode::kPermanent, "authentication failed"));
      },
      [](milliseconds) { return true; });
  EXPECT_FALSE(out.status);
  EXPECT_EQ(out.status.error().code(), ErrorCode::kPermanent);
  EXPECT_EQ(calls, 1);
}

TEST(RetryLoop, CancelledWaitStopsRetrying) {
  std::mt19937_64 rng(7);
  int calls = 0;
  RetryOutcome out = run_with_retry(
      policy(5), rng,
      [&](int) {
        ++calls;
        return retryable();
      },
      [](milliseconds) { return false; });
  EXPECT_FALSE(out.status);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out.attempts, 1);
}

TEST(Backoff, CeilingIsCappedAtMax) {
  BackoffPolicy p = policy(20);
  EXPECT_EQ(p.ceiling(2).count(), 100);
  EXPECT_EQ(p.ceiling(5).count(), 800);
  EXPECT_EQ(p.ceiling(6).count(), 1000);
  EXPECT_EQ(p.ceiling(19).count(), 1000);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100; ++i) {
    const auto d = p.delay(12, rng);
    EXPECT_GE(d.count(), 500);
    EXPECT_LE(d.count(), 1000);
  }
}

}  // namespace
}  // namespace megasync::engine
