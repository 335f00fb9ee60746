#include "engine/schedule.h"

#include <gtest/gtest.h>

namespace megasync::engine {
namespace {

using std::chrono::seconds;

// A fixed origin on the steady clock; the schedule only compares points in time.
const SteadyTime kT0 = SteadyTime() + std::chrono::hours(1);

TEST(Schedule, FirstRunIsDueAtBegin) {
  Schedule s(seconds(30));
  s.begin(kT0);
  EXPECT_FALSE(s.take_due(kT0 - seconds(1)));
  auto due = s.take_due(kT0);
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, "schedule");
  // Consumed: not due again until the run finishes.
  EXPECT_FALSE(s.take_due(kT0 + seconds(100)));
}

TEST(Schedule, NextRunIsIntervalAfterTheStart) {
  Schedule s(seconds(30));
  s.begin(kT0);
  ASSERT_TRUE(s.take_due(kT0));
  s.run_started(kT0);
  s.run_finished(kT0 + seconds(5));
  EXPECT_EQ(s.next_due(), kT0 + seconds(30));
  EXPECT_FALSE(s.take_due(kT0 + seconds(29)));
  EXPECT_TRUE(s.take_due(kT0 + seconds(30)));
}

TEST(Schedule, OverrunStartsTheNextRunAtOnceWithoutCatchUpBurst) {
  Schedule s(seconds(10));
  s.begin(kT0);
  ASSERT_TRUE(s.take_due(kT0));
  s.run_started(kT0);
  s.run_finished(kT0 + seconds(35));  // three intervals late
  EXPECT_EQ(s.next_due(), kT0 + seconds(35));
  ASSERT_TRUE(s.take_due(kT0 + seconds(35)));
  s.run_started(kT0 + seconds(35));
  s.run_finished(kT0 + seconds(36));
  // One run, then back on the interval: no burst of missed runs.
  EXPECT_EQ(s.next_due(), kT0 + seconds(45));
  EXPECT_FALSE(s.take_due(kT0 + seconds(40)));
}

TEST(Schedule, TriggerMakesARunDueNowAndCoalesces) {
  Schedule s(seconds(60));
  s.begin(kT0);
  ASSERT_TRUE(s.take_due(kT0));
  s.run_started(kT0);
  s.trigger("api");
  s.trigger("webhook");  // arrives during the same run: one run serves both
  s.run_finished(kT0 + seconds(1));
  EXPECT_TRUE(s.trigger_pending());
  auto due = s.take_due(kT0 + seconds(1));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, "api");
  EXPECT_FALSE(s.trigger_pending());
  s.run_started(kT0 + seconds(1));
  s.run_finished(kT0 + seconds(2));
  EXPECT_FALSE(s.take_due(kT0 + seconds(2)));
  EXPECT_EQ(s.next_due(), kT0 + seconds(61));
}

TEST(Schedule, ZeroIntervalRunsOnlyWhenTriggered) {
  Schedule s(seconds(0));
  s.begin(kT0);
  EXPECT_FALSE(s.next_due());
  EXPECT_EQ(s.wake_at(), SteadyTime::max());
  EXPECT_FALSE(s.take_due(kT0 + std::chrono::hours(1000)));
  s.trigger("cli");
  EXPECT_EQ(s.next_due(), SteadyTime::min());
  EXPECT_TRUE(s.take_due(kT0));
  s.run_started(kT0);
  s.run_finished(kT0 + seconds(1));
  EXPECT_FALSE(s.next_due());
}

}  // namespace
}  // namespace megasync::engine
