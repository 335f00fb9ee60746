#include "monitor/process_metrics.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace megasync::monitor {
namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

// The fields of /proc/self/stat after the command name, so that index 0 is
// field 3 (state) of proc(5). The name is skipped up to the LAST ')' because
// it may itself contain spaces and parentheses.
std::vector<std::string> read_stat_fields() {
  std::ifstream file("/proc/self/stat");
  std::string line;
  if (!std::getline(file, line)) {
    return {};
  }
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return {};
  }
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) {
    fields.push_back(field);
  }
  return fields;
}

// Field `number` (1-based, as numbered in proc(5)) of /proc/self/stat.
double stat_field(int number) {
  const std::vector<std::string> fields = read_stat_fields();
  const auto index = static_cast<std::size_t>(number - 3);
  if (index >= fields.size()) {
    return kUnknown;
  }
  try {
    return std::stod(fields[index]);
  } catch (const std::exception&) {
    return kUnknown;
  }
}

double clock_ticks_per_second() {
  const long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<double>(ticks) : 100.0;
}

double page_size() {
  const long size = sysconf(_SC_PAGESIZE);
  return size > 0 ? static_cast<double>(size) : 4096.0;
}

double boot_time_seconds() {
  std::ifstream file("/proc/stat");
  for (std::string line; std::getline(file, line);) {
    if (line.starts_with("btime ")) {
      try {
        return std::stod(line.substr(6));
      } catch (const std::exception&) {
        return kUnknown;
      }
    }
  }
  return kUnknown;
}

double cpu_seconds() {
  // utime (14) and stime (15) are in clock ticks.
  return (stat_field(14) + stat_field(15)) / clock_ticks_per_second();
}

double start_time_seconds() {
  // starttime (22) is in clock ticks since boot.
  return boot_time_seconds() + stat_field(22) / clock_ticks_per_second();
}

double open_fds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) {
    return kUnknown;
  }
  double count = 0;
  for (const auto& entry : it) {
    (void)entry;
    ++count;
  }
  return count;
}

double max_fds() {
  // "Max open files            1024                 524288               files"
  std::ifstream file("/proc/self/limits");
  const std::string prefix = "Max open files";
  for (std::string line; std::getline(file, line);) {
    if (!line.starts_with(prefix)) {
      continue;
    }
    std::istringstream rest(line.substr(prefix.size()));
    std::string soft;
    rest >> soft;
    if (soft == "unlimited") {
      return std::numeric_limits<double>::infinity();
    }
    try {
      return std::stod(soft);
    } catch (const std::exception&) {
      return kUnknown;
    }
  }
  return kUnknown;
}

}  // namespace

void register_process_metrics(MetricsRegistry& registry) {
  registry.gauge_callback("process_cpu_seconds_total",
                          "Total user and system CPU time spent in seconds.", cpu_seconds,
                          MetricType::kCounter);
  registry.gauge_callback("process_resident_memory_bytes", "Resident memory size in bytes.",
                          [] { return stat_field(24) * page_size(); });
  registry.gauge_callback("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                          [] { return stat_field(23); });
  // Fixed for the life of the process: read once.
  const double started = start_time_seconds();
  registry.gauge_callback("process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds.",
                          [started] { return started; });
  registry.gauge_callback("process_open_fds", "Number of open file descriptors.", open_fds);
  registry.gauge_callback("process_max_fds", "Maximum number of open file descriptors.", max_fds);
}

}  // namespace megasync::monitor
