#include "core/cancel.h"

#include <gtest/gtest.h>

#include <thread>

namespace megasync {
namespace {

using std::chrono::milliseconds;

TEST(Cancel, TokenSeesCancellationFromAnotherThread) {
  CancelSource source;
  CancelToken token = source.token();
  EXPECT_FALSE(token.cancelled());
  std::thread canceller([&] { source.cancel(); });
  EXPECT_TRUE(token.wait_until(Deadline::never()));
  canceller.join();
  EXPECT_TRUE(token.cancelled());
  EXPECT_TRUE(source.cancelled());
}

TEST(Cancel, WaitEndsAtTheDeadlineWhenNotCancelled) {
  CancelToken token;
  EXPECT_FALSE(token.wait_until(Deadline::after(milliseconds(5))));
}

TEST(Deadline, NeverHasNoExpiry) {
  EXPECT_FALSE(Deadline::never().expired());
  EXPECT_GT(Deadline::never().remaining(), std::chrono::hours(24));
  Deadline past(SteadyClock::now() - milliseconds(1));
  EXPECT_TRUE(past.expired());
  EXPECT_EQ(past.remaining().count(), 0);
  EXPECT_EQ(Deadline::never().min(past).at(), past.at());
}

}  // namespace
}  // namespace megasync
