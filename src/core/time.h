// Wall-clock time as megasync writes it: RFC 3339 in UTC with milliseconds.
#pragma once

#include <chrono>
#include <string>

namespace megasync {

using WallClock = std::chrono::system_clock;
using WallTime = WallClock::time_point;

// "2026-11-28T20:08:37.123Z"
std::string format_time(WallTime t);
double unix_seconds(WallTime t);

}  // namespace megasync
