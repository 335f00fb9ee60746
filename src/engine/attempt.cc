#include "engine/attempt.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace megasync::engine {
namespace {

struct Shared {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  bool abandoned = false;
  Status status = ok();
};

constexpr std::chrono::milliseconds kPollSlice{50};

}  // namespace

AttemptResult run_attempt(std::shared_ptr<Job> job, std::shared_ptr<RunProgress> progress,
                          RunContext ctx, const AttemptLimits& limits,
                          AbandonedCounters abandoned) {
  auto shared = std::make_shared<Shared>();
  CancelSource cancel;
  ctx.cancel = cancel.token();
  ctx.deadline = limits.deadline;
  ctx.progress = progress.get();

  auto add = [](const AbandonedCounters& counters, int delta) {
    for (const auto& counter : {counters.job, counters.total}) {
      if (counter) {
        counter->fetch_add(delta);
      }
    }
  };
  std::thread worker([shared, job, progress, ctx, abandoned, add]() mutable {
    Status status = ok();
    try {
      status = job->run(ctx);
    } catch (const std::exception& e) {
      // A connector let an exception through: a bug, but one that must not take
      // the daemon down.
      status = make_error(ErrorCode::kPermanent, "unexpected exception: {}", e.what());
    } catch (...) {
      status = make_error(ErrorCode::kPermanent, "unexpected exception");
    }
    std::lock_guard lock(shared->mutex);
    shared->done = true;
    shared->status = std::move(status);
    if (shared->abandoned) {
      add(abandoned, -1);
    }
    shared->cv.notify_all();
  });

  AttemptResult result;
  std::unique_lock lock(shared->mutex);
  // Wait for the job, its deadline or the hard stop, in slices so that the hard
  // stop (a different condition variable) is noticed promptly.
  while (!shared->done) {
    if (limits.deadline.expired() || limits.hard_stop.cancelled()) {
      break;
    }
    SteadyTime until = std::min(limits.deadline.at(), SteadyClock::now() + kPollSlice);
    shared->cv.wait_until(lock, until, [&] { return shared->done; });
  }
  if (!shared->done) {
    result.timed_out = limits.deadline.expired();
    cancel.cancel();
    shared->cv.wait_for(lock, limits.abandon_grace, [&] { return shared->done; });
  }
  if (shared->done) {
    lock.unlock();
    worker.join();
    result.status = std::move(shared->status);
    if (result.timed_out) {
      result.status =
          make_error(ErrorCode::kRetryable, "run exceeded its deadline and was stopped");
    }
    return result;
  }
  shared->abandoned = true;
  add(abandoned, 1);
  lock.unlock();
  worker.detach();
  result.abandoned = true;
  result.status =
      make_error(result.timed_out ? ErrorCode::kRetryable : ErrorCode::kCancelled,
                 "run did not stop within {} ms after {} and was abandoned",
                 limits.abandon_grace.count(), result.timed_out ? "its deadline" : "shutdown");
  return result;
}

}  // namespace megasync::engine
