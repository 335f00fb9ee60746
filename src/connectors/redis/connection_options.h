// The connection options every Redis endpoint type shares (`redis`,
// `redis_streams`): url, host, port, user, password. Each type adds its own
// after these.
//
// Thread-safety: a pure function.
#pragma once

#include <vector>

#include "engine/registry.h"

namespace megasync::connectors::redis {

inline std::vector<config::OptionSpec> connection_option_specs() {
  using config::OptionSpec;
  using config::OptionType;
  return {
      OptionSpec{.name = "url",
                 .type = OptionType::kString,
                 .description = "redis://[user[:password]@]host[:port][/db]; sets host, port, "
                                "user, password and db.",
                 .secret = true},
      OptionSpec{.name = "host",
                 .type = OptionType::kString,
                 .description = "Server host name or address.",
                 .default_value = "127.0.0.1"},
      OptionSpec{.name = "port",
                 .type = OptionType::kInt,
                 .description = "Server port.",
                 .default_value = "6379",
                 .min = 1,
                 .max = 65535},
      OptionSpec{.name = "user",
                 .type = OptionType::kString,
                 .description = "ACL user (AUTH user password); without it AUTH sends the "
                                "password only."},
      OptionSpec{.name = "password",
                 .type = OptionType::kString,
                 .description = "Password (use ${VAR} interpolation).",
                 .secret = true},
  };
}

}  // namespace megasync::connectors::redis
