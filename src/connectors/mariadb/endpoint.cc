#include "connectors/mariadb/endpoint.h"

#include <charconv>

#include "connectors/mariadb/reader.h"
#include "connectors/mariadb/service.h"
#include "connectors/mariadb/sink.h"

namespace megasync::connectors::mariadb {
namespace {

tl::unexpected<Error> bad_url(std::string_view why) {
  return make_error(ErrorCode::kInvalidConfig,
                    "url: {}; expected mysql://user:password@host:port/database", why);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

Result<std::string> percent_decoded(std::string_view text, std::string_view what) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int high = i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return bad_url(fmt::format("a bad %-escape in the {}", what));
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace

Status parse_url(std::string_view url, MariadbOptions& options) {
  std::string_view rest;
  for (std::string_view scheme : {"mysql://", "mariadb://"}) {
    if (url.starts_with(scheme)) {
      rest = url.substr(scheme.size());
      break;
    }
  }
  if (rest.empty()) {
    return bad_url("it does not start with mysql:// or mariadb://");
  }
  rest = rest.substr(0, rest.find('?'));
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return bad_url("it names no database");
  }
  Result<std::string> database = percent_decoded(rest.substr(slash + 1), "database");
  if (!database) {
    return fail(database.error());
  }
  std::string_view authority = rest.substr(0, slash);
  // The password may contain '@' only escaped, so the last '@' ends the user info.
  const std::size_t at = authority.rfind('@');
  MariadbOptions parsed = options;
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    Result<std::string> user = percent_decoded(userinfo.substr(0, colon), "user");
    if (!user) {
      return fail(user.error());
    }
    parsed.user = *user;
    parsed.password.clear();
    if (colon != std::string_view::npos) {
      Result<std::string> password = percent_decoded(userinfo.substr(colon + 1), "password");
      if (!password) {
        return fail(password.error());
      }
      parsed.password = *password;
    }
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad_url("an IPv6 host without ']'");
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) {
        return bad_url("text after the host");
      }
      port = after.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    return bad_url("it names no host");
  }
  parsed.host = std::string(host);
  if (!port.empty()) {
    int number = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || ptr != port.data() + port.size() || number < 1 || number > 65535) {
      return bad_url("the port is not a number from 1 to 65535");
    }
    parsed.port = number;
  }
  parsed.database = std::move(*database);
  options = std::move(parsed);
  return ok();
}

Status MariadbEndpoint::probe(Deadline deadline) {
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, deadline, /*bound_reads=*/true);
  if (!connection) {
    return fail(connection.error());
  }
  return (*connection)->exec("SELECT 1");
}

Result<std::unique_ptr<RecordSink>> MariadbEndpoint::open_record_sink(
    const engine::SinkRequest& request) {
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, Deadline::after(std::chrono::seconds(30)));
  if (!connection) {
    return fail(connection.error());
  }
  return std::unique_ptr<RecordSink>(std::make_unique<MariadbSink>(
      std::move(*connection), options_.database, request.job, request.target));
}

Result<std::unique_ptr<RecordReader>> MariadbEndpoint::open_record_reader() {
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, Deadline::after(std::chrono::seconds(30)));
  if (!connection) {
    return fail(connection.error());
  }
  return std::unique_ptr<RecordReader>(
      std::make_unique<MariadbReader>(std::move(*connection), options_.database));
}

}  // namespace megasync::connectors::mariadb
