#include "api/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

namespace megasync::api {

Result<ListenAddress> parse_listen(std::string_view listen) {
  auto invalid = [listen] {
    return make_error(ErrorCode::kInvalidConfig,
                      "api.listen \"{}\": expected host:port, e.g. 127.0.0.1:7171 or [::1]:7171",
                      listen);
  };
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return invalid();
  }
  std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) {
      return invalid();
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return invalid();  // a bare IPv6 address is ambiguous; it needs brackets
  }
  int port = -1;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return invalid();
  }
  return ListenAddress{std::string(host), port};
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") {
    return true;
  }
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) {
      return true;
    }
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

bool is_loopback_listen(std::string_view listen) {
  const auto address = parse_listen(listen);
  return address && is_loopback_host(address->host);
}

}  // namespace megasync::api
