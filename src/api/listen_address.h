// The api.listen address: "host:port", "[v6addr]:port"; and whether it is loopback.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace megasync::api {

struct ListenAddress {
  std::string host;  // without brackets; may be empty ("" listens on every address)
  int port = 0;      // 0: any free port
};

// kInvalidConfig, naming the value, when it is not host:port with a port in 0..65535.
Result<ListenAddress> parse_listen(std::string_view listen);

// "localhost", 127.0.0.0/8, ::1 and ::ffff:127.x. "0.0.0.0", "::", "" are not.
bool is_loopback_host(std::string_view host);

// True when `listen` parses and its host is loopback.
bool is_loopback_listen(std::string_view listen);

}  // namespace megasync::api
