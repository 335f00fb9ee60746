// Cancellation and deadlines for runs.
//
// A CancelSource is owned by whoever may stop an operation (the orchestrator on
// shutdown, the job runner when a deadline passes). It hands out CancelTokens to
// the operation, which polls `cancelled()` or waits on it instead of sleeping.
// A Deadline is a point on the steady clock; `Deadline::never()` has none.
//
// Thread-safety: CancelSource and CancelToken may be shared across threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace megasync {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

class Deadline {
 public:
  static Deadline never() { return Deadline(SteadyTime::max()); }
  static Deadline after(std::chrono::milliseconds d) { return Deadline(SteadyClock::now() + d); }
  explicit Deadline(SteadyTime at) : at_(at) {}

  SteadyTime at() const { return at_; }
  bool expired() const { return at_ != SteadyTime::max() && SteadyClock::now() >= at_; }
  // Time left, zero when expired, a large value when there is no deadline.
  std::chrono::milliseconds remaining() const;
  // The earlier of this deadline and `other`.
  Deadline min(Deadline other) const { return Deadline(at_ < other.at_ ? at_ : other.at_); }

 private:
  SteadyTime at_;
};

namespace detail {
struct CancelState {
  std::mutex mutex;
  std::condition_variable cv;
  bool cancelled = false;
};
}  // namespace detail

class CancelToken {
 public:
  // A token that is never cancelled.
  CancelToken() : state_(std::make_shared<detail::CancelState>()) {}

  bool cancelled() const;
  // Waits until cancelled or until `deadline`; returns true when cancelled.
  // Use instead of sleeping so that shutdown is never held up.
  bool wait_until(Deadline deadline) const;
  bool wait_for(std::chrono::milliseconds d) const { return wait_until(Deadline::after(d)); }

 private:
  friend class CancelSource;
  explicit CancelToken(std::shared_ptr<detail::CancelState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::CancelState> state_;
};

class CancelSource {
 public:
  CancelSource() : state_(std::make_shared<detail::CancelState>()) {}
  CancelToken token() const { return CancelToken(state_); }
  void cancel();
  bool cancelled() const { return token().cancelled(); }

 private:
  std::shared_ptr<detail::CancelState> state_;
};

}  // namespace megasync
