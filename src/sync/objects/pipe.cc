#include "sync/objects/pipe.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace megasync::sync::objects {
namespace {

// Cancellation is polled at this period while a side waits: the token has no
// way to wake a condition variable it does not own.
constexpr auto kCancelPoll = std::chrono::milliseconds(100);

}  // namespace

BytePipe::BytePipe(std::size_t capacity, CancelToken cancel)
    : capacity_(capacity), cancel_(std::move(cancel)) {}

Status BytePipe::push(std::string_view chunk) {
  if (chunk.empty()) {
    return ok();
  }
  std::unique_lock lock(mutex_);
  while (!aborted_ && buffered_ > 0 && buffered_ + chunk.size() > capacity_) {
    if (cancel_.cancelled()) {
      return make_error(ErrorCode::kCancelled, "copy cancelled");
    }
    changed_.wait_for(lock, kCancelPoll);
  }
  if (aborted_) {
    return fail(*aborted_);
  }
  if (cancel_.cancelled()) {
    return make_error(ErrorCode::kCancelled, "copy cancelled");
  }
  chunks_.emplace_back(chunk);
  buffered_ += chunk.size();
  changed_.notify_all();
  return ok();
}

Result<std::size_t> BytePipe::pop(char* buffer, std::size_t capacity) {
  std::unique_lock lock(mutex_);
  while (chunks_.empty() && !closed_) {
    if (cancel_.cancelled()) {
      return make_error(ErrorCode::kCancelled, "copy cancelled");
    }
    changed_.wait_for(lock, kCancelPoll);
  }
  if (chunks_.empty()) {
    if (!close_status_) {
      return fail(close_status_.error());
    }
    return std::size_t{0};
  }
  const std::string& front = chunks_.front();
  const std::size_t n = std::min(capacity, front.size() - front_offset_);
  std::memcpy(buffer, front.data() + front_offset_, n);
  front_offset_ += n;
  buffered_ -= n;
  if (front_offset_ == front.size()) {
    chunks_.pop_front();
    front_offset_ = 0;
  }
  changed_.notify_all();
  return n;
}

void BytePipe::close(Status status) {
  std::lock_guard lock(mutex_);
  closed_ = true;
  close_status_ = std::move(status);
  // An error discards what is buffered: the consumer must not write a
  // truncated object as if it were complete.
  if (!close_status_) {
    chunks_.clear();
    buffered_ = 0;
  }
  changed_.notify_all();
}

void BytePipe::abort(Error error) {
  std::lock_guard lock(mutex_);
  aborted_ = std::move(error);
  chunks_.clear();
  buffered_ = 0;
  changed_.notify_all();
}

}  // namespace megasync::sync::objects
