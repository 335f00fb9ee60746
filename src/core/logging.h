// Logging set-up: spdlog, human-readable by default or one JSON object per line,
// every line passed through redact() so that no secret reaches a log.
#pragma once

#include <string>

#include "core/error.h"

namespace megasync {

enum class LogFormat { kText, kJson };

// Configures the default logger: level ("trace" ... "off"), format, to stderr.
// Fails on an unknown level or format, naming the allowed values.
Status setup_logging(const std::string& level, const std::string& format);

}  // namespace megasync
