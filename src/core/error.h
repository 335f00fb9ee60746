// Errors as values at component boundaries.
//
// Every fallible operation that crosses a module boundary returns Result<T> (a
// value or an Error) or Status (Result<void>). An Error carries a closed code that
// tells the caller what to do about it (retry, stop, report) and a message that
// names the job, the endpoint and what the operator should do. Context is added
// on the way up ("job orders: target backup: apply batch: ...").
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace megasync {

enum class ErrorCode {
  kRetryable,      // transient: timeouts, connection loss, throttling. Retry with backoff.
  kPermanent,      // will not go away by retrying: auth, schema conflict. Stop and report.
  kNotFound,       // the thing asked for does not exist.
  kInvalidConfig,  // the configuration is wrong; the message says where and how to fix it.
  kCancelled,      // the operation was stopped by a shutdown or a deadline.
};

std::string_view to_string(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return code_ == ErrorCode::kRetryable; }

  // Returns a copy whose message is "<context>: <message>".
  Error with_context(std::string_view context) const&;
  Error with_context(std::string_view context) &&;

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline Status ok() {
  return {};
}

template <typename... Args>
tl::unexpected<Error> make_error(ErrorCode code, fmt::format_string<Args...> format,
                                 Args&&... args) {
  return tl::unexpected<Error>(Error(code, fmt::format(format, std::forward<Args>(args)...)));
}

inline tl::unexpected<Error> fail(Error error) {
  return tl::unexpected<Error>(std::move(error));
}

// Adds context to the error of a failed result and passes a value through.
template <typename T>
Result<T> with_context(Result<T> result, std::string_view context) {
  if (!result) {
    return tl::unexpected<Error>(std::move(result.error()).with_context(context));
  }
  return result;
}

}  // namespace megasync
