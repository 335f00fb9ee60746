#include "connectors/s3/encode.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cstdint>

namespace megasync::connectors::s3 {

std::string format_mtime(WallTime t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const auto seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  return fmt::format("{}.{:03}", seconds, ms - seconds * 1000);
}

Result<WallTime> parse_mtime(std::string_view text) {
  const std::string_view whole = text.substr(0, text.find('.'));
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (ec != std::errc() || end != whole.data() + whole.size() || whole.empty()) {
    return make_error(ErrorCode::kPermanent, "unreadable time '{}'", text);
  }
  std::int64_t ms = 0;
  int digits = 0;
  if (whole.size() < text.size()) {
    for (char c : text.substr(whole.size() + 1)) {
      if (c < '0' || c > '9') {
        return make_error(ErrorCode::kPermanent, "unreadable time '{}'", text);
      }
      if (digits < 3) {
        ms = ms * 10 + (c - '0');
        ++digits;
      }
    }
  }
  for (; digits < 3; ++digits)
    ms *= 10;
  return WallTime(std::chrono::milliseconds(seconds * 1000 + (seconds < 0 ? -ms : ms)));
}

}  // namespace megasync::connectors::s3
