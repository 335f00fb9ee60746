#include "core/cancel.h"

namespace megasync {

std::chrono::milliseconds Deadline::remaining() const {
  if (at_ == SteadyTime::max()) {
    return std::chrono::hours(24 * 365);
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - SteadyClock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

bool CancelToken::cancelled() const {
  std::lock_guard lock(state_->mutex);
  return state_->cancelled;
}

bool CancelToken::wait_until(Deadline deadline) const {
  std::unique_lock lock(state_->mutex);
  if (deadline.at() == SteadyTime::max()) {
    state_->cv.wait(lock, [&] { return state_->cancelled; });
    return true;
  }
  return state_->cv.wait_until(lock, deadline.at(), [&] { return state_->cancelled; });
}

void CancelSource::cancel() {
  {
    std::lock_guard lock(state_->mutex);
    state_->cancelled = true;
  }
  state_->cv.notify_all();
}

}  // namespace megasync
