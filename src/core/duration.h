// Durations and sizes as written in configuration files: "30s", "5m", "1h30m",
// "250ms", "7d"; sizes "64MiB", "16MB", "1024".
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace megasync {

using Duration = std::chrono::milliseconds;

// Parses a duration. A bare number is seconds ("30" == "30s"), as in the
// specification's environment variables. Returns nullopt for anything else.
std::optional<Duration> parse_duration(std::string_view text);

// Formats a duration in the shortest exact form: 30000ms -> "30s", 90s -> "1m30s".
std::string format_duration(Duration d);

// Parses a byte size: "64MiB", "16MB", "512KiB", "1GiB", "1024". nullopt if invalid.
std::optional<std::uint64_t> parse_bytes(std::string_view text);

}  // namespace megasync
