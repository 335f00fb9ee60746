#include "core/error.h"

namespace megasync {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kRetryable:
      return "retryable";
    case ErrorCode::kPermanent:
      return "permanent";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kInvalidConfig:
      return "invalid_config";
    case ErrorCode::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

Error Error::with_context(std::string_view context) const& {
  return Error(code_, fmt::format("{}: {}", context, message_));
}

Error Error::with_context(std::string_view context) && {
  message_ = fmt::format("{}: {}", context, message_);
  return std::move(*this);
}

}  // namespace megasync
