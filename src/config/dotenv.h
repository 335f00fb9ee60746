// Internal to the config module: `.env` parsing that reports every bad line
// (parse_dotenv() in loader.h returns only the first).
#pragma once

#include <string>
#include <vector>

#include "config/loader.h"

namespace megasync::config::detail {

Environment parse_dotenv_all(const std::string& text, const std::string& path,
                             std::vector<ConfigError>& errors);

}  // namespace megasync::config::detail
