#include "core/duration.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace megasync {
namespace {

// Reads a non-negative integer or decimal at `pos`; advances `pos`.
std::optional<double> read_number(std::string_view text, std::size_t& pos) {
  std::size_t start = pos;
  bool seen_dot = false;
  while (pos < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[pos])) || (text[pos] == '.' && !seen_dot))) {
    seen_dot = seen_dot || text[pos] == '.';
    ++pos;
  }
  if (pos == start || (pos - start == 1 && text[start] == '.')) {
    return std::nullopt;
  }
  try {
    return std::stod(std::string(text.substr(start, pos - start)));
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<double> unit_ms(std::string_view unit) {
  if (unit == "ms")
    return 1.0;
  if (unit == "s")
    return 1000.0;
  if (unit == "m")
    return 60'000.0;
  if (unit == "h")
    return 3'600'000.0;
  if (unit == "d")
    return 86'400'000.0;
  return std::nullopt;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  std::size_t pos = 0;
  double total_ms = 0;
  bool bare = true;
  while (pos < text.size()) {
    auto number = read_number(text, pos);
    if (!number) {
      return std::nullopt;
    }
    std::size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) {
      ++pos;
    }
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) {
      // Only a lone bare number is allowed ("30"), meaning seconds.
      if (!bare || pos != text.size()) {
        return std::nullopt;
      }
      total_ms += *number * 1000.0;
      break;
    }
    bare = false;
    auto factor = unit_ms(unit);
    if (!factor) {
      return std::nullopt;
    }
    total_ms += *number * *factor;
  }
  if (total_ms > static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2)) {
    return std::nullopt;
  }
  return Duration(static_cast<std::int64_t>(total_ms + 0.5));
}

std::string format_duration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) {
    return "0s";
  }
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  if (ms % 1000 != 0) {
    if (ms < 1000) {
      return out + std::to_string(ms) + "ms";
    }
    // Sub-second precision: print seconds with a fraction.
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3gs", static_cast<double>(ms) / 1000.0);
    return out + buffer;
  }
  std::int64_t s = ms / 1000;
  const std::int64_t hours = s / 3600;
  const std::int64_t minutes = (s % 3600) / 60;
  const std::int64_t seconds = s % 60;
  if (hours > 0)
    out += std::to_string(hours) + "h";
  if (minutes > 0)
    out += std::to_string(minutes) + "m";
  if (seconds > 0)
    out += std::to_string(seconds) + "s";
  return out;
}

std::optional<std::uint64_t> parse_bytes(std::string_view text) {
  std::size_t pos = 0;
  auto number = read_number(text, pos);
  if (!number) {
    return std::nullopt;
  }
  std::string_view unit = text.substr(pos);
  while (!unit.empty() && unit.front() == ' ') {
    unit.remove_prefix(1);
  }
  double factor = 0;
  if (unit.empty() || unit == "B") {
    factor = 1;
  } else if (unit == "KB" || unit == "kB") {
    factor = 1e3;
  } else if (unit == "MB") {
    factor = 1e6;
  } else if (unit == "GB") {
    factor = 1e9;
  } else if (unit == "KiB") {
    factor = 1024.0;
  } else if (unit == "MiB") {
    factor = 1024.0 * 1024;
  } else if (unit == "GiB") {
    factor = 1024.0 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(*number * factor + 0.5);
}

}  // namespace megasync
