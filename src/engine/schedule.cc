#include "engine/schedule.h"

#include <algorithm>

namespace megasync::engine {

void Schedule::run_started(SteadyTime at) {
  last_started_ = at;
}

void Schedule::run_finished(SteadyTime at) {
  if (interval_.count() <= 0) {
    next_due_.reset();
    return;
  }
  const SteadyTime by_interval = last_started_.value_or(at) + interval_;
  next_due_ = std::max(by_interval, at);
}

void Schedule::trigger(std::string reason) {
  // Coalesce: the first reason is kept; one run serves every trigger so far.
  if (!pending_trigger_) {
    pending_trigger_ = std::move(reason);
  }
}

std::optional<std::string> Schedule::take_due(SteadyTime now) {
  if (pending_trigger_) {
    std::optional<std::string> reason = std::move(pending_trigger_);
    pending_trigger_.reset();
    return reason;
  }
  if (interval_.count() > 0 && next_due_ && now >= *next_due_) {
    // Until run_finished() sets the next one, nothing else is due.
    next_due_.reset();
    return std::string("schedule");
  }
  return std::nullopt;
}

std::optional<SteadyTime> Schedule::next_due() const {
  if (pending_trigger_) {
    return SteadyTime::min();
  }
  if (interval_.count() <= 0) {
    return std::nullopt;
  }
  return next_due_;
}

}  // namespace megasync::engine
