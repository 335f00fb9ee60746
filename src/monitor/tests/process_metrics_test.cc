#include "monitor/process_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <sstream>
#include <string>

namespace megasync::monitor {
namespace {

double sample(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(name + " ")) {
      return std::stod(line.substr(name.size() + 1));
    }
  }
  ADD_FAILURE() << "no sample " << name << " in\n" << text;
  return std::nan("");
}

TEST(ProcessMetrics, ValuesArePlausible) {
  MetricsRegistry registry;
  register_process_metrics(registry);
  register_process_metrics(registry);  // idempotent
  const std::string text = registry.render();
  EXPECT_GT(sample(text, "process_resident_memory_bytes"), 1024 * 1024);
  EXPECT_GT(sample(text, "process_virtual_memory_bytes"),
            sample(text, "process_resident_memory_bytes"));
  EXPECT_GE(sample(text, "process_cpu_seconds_total"), 0);
  EXPECT_GT(sample(text, "process_start_time_seconds"), 1.5e9);  // after 2017
  EXPECT_GE(sample(text, "process_open_fds"), 3);                // stdin, stdout, stderr
  EXPECT_GE(sample(text, "process_max_fds"), sample(text, "process_open_fds"));
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE process_open_fds gauge\n"), std::string::npos);
}

TEST(ProcessMetrics, ExpositionIsWellFormed) {
  MetricsRegistry registry;
  register_process_metrics(registry);
  const std::string text = registry.render();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const std::regex help(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
  const std::regex type(R"(# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram))");
  const std::regex sample_line(R"([a-zA-Z_:][a-zA-Z0-9_:]* (NaN|[+-]Inf|-?[0-9.]+(e[+-][0-9]+)?))");
  std::istringstream lines(text);
  int samples = 0;
  for (std::string line; std::getline(lines, line);) {
    const bool ok = std::regex_match(line, help) || std::regex_match(line, type) ||
                    std::regex_match(line, sample_line);
    EXPECT_TRUE(ok) << line;
    samples += line.starts_with("#") ? 0 : 1;
  }
  EXPECT_EQ(samples, 6);
}

}  // namespace
}  // namespace megasync::monitor
