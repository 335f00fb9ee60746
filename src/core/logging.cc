#include "core/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/redact.h"
#include "core/time.h"

namespace megasync {
namespace {

// Writes to stderr, text or JSON, with secrets redacted.
class RedactingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit RedactingSink(LogFormat format) : format_(format) {
    set_pattern_("%Y-%m-%dT%H:%M:%S.%e%z %^%-5l%$ %v");
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line;
    if (format_ == LogFormat::kJson) {
      nlohmann::json doc = {
          {"time", format_time(msg.time)},
          {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                spdlog::level::to_string_view(msg.level).size())},
          {"message", redact(std::string_view(msg.payload.data(), msg.payload.size()))}};
      line = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      line.push_back('\n');
    } else {
      spdlog::memory_buf_t formatted;
      formatter_->format(msg, formatted);
      line = redact(std::string_view(formatted.data(), formatted.size()));
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  LogFormat format_;
};

}  // namespace

Status setup_logging(const std::string& level, const std::string& format) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return make_error(
        ErrorCode::kInvalidConfig,
        "unknown log level '{}'; use trace, debug, info, warn, error, critical or off", level);
  }
  LogFormat log_format;
  if (format == "text") {
    log_format = LogFormat::kText;
  } else if (format == "json") {
    log_format = LogFormat::kJson;
  } else {
    return make_error(ErrorCode::kInvalidConfig, "unknown log format '{}'; use text or json",
                      format);
  }
  auto sink = std::make_shared<RedactingSink>(log_format);
  auto logger = std::make_shared<spdlog::logger>("megasync", std::move(sink));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return ok();
}

}  // namespace megasync
