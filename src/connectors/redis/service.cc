#include "connectors/redis/service.h"

#include <fmt/format.h>
#include <poll.h>

#include <charconv>

namespace megasync::connectors::redis {
namespace {

tl::unexpected<Error> bad_url(std::string_view why) {
  return make_error(ErrorCode::kInvalidConfig,
                    "url: {}; expected redis://[user[:password]@]host[:port][/db]", why);
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

std::optional<int> parse_number(std::string_view text, int max) {
  int number = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || number < 0 ||
      number > max) {
    return std::nullopt;
  }
  return number;
}

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() < 1) {
    ms = std::chrono::milliseconds(1);
  }
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
  return tv;
}

constexpr auto kCommandTimeout = std::chrono::seconds(60);

}  // namespace

Status parse_url(std::string_view url, RedisOptions& options) {
  if (!url.starts_with("redis://")) {
    return bad_url("it does not start with redis:// (rediss:// is not supported: no TLS)");
  }
  std::string_view rest = url.substr(8);
  rest = rest.substr(0, rest.find('?'));
  RedisOptions parsed = options;
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    std::optional<int> db = parse_number(rest.substr(slash + 1), 65535);
    if (!db) {
      return bad_url("the database after '/' is not a number");
    }
    parsed.db = *db;
  }
  const std::size_t at = authority.rfind('@');
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
  if (const std::size_t colon = authority.rfind(':');
      colon != std::string_view::npos && !authority.starts_with('[')) {
    host = authority.substr(0, colon);
    std::optional<int> port = parse_number(authority.substr(colon + 1), 65535);
    if (!port || *port == 0) {
      return bad_url("the port is not a number from 1 to 65535");
    }
    parsed.port = *port;
  }
  if (host.empty()) {
    return bad_url("it names no host");
  }
  parsed.host = std::string(host);
  options = std::move(parsed);
  return ok();
}

std::string_view reply_text(const redisReply& reply) {
  if (reply.str == nullptr) {
    return {};
  }
  return {reply.str, reply.len};
}

ErrorCode classify_error(std::string_view message, bool io_error) {
  if (io_error) {
    return ErrorCode::kRetryable;
  }
  for (std::string_view transient : {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"}) {
    if (message.starts_with(transient)) {
      return ErrorCode::kRetryable;
    }
  }
  return ErrorCode::kPermanent;
}

Result<std::unique_ptr<Connection>> Connection::open(const RedisOptions& options, Deadline deadline,
                                                     int db) {
  const std::string where = fmt::format("redis {}:{}", options.host, options.port);
  redisContext* context =
      redisConnectWithTimeout(options.host.c_str(), options.port, to_timeval(deadline.remaining()));
  if (context == nullptr) {
    return make_error(ErrorCode::kRetryable, "{}: cannot allocate a connection", where);
  }
  if (context->err != 0) {
    std::string why = context->errstr;
    redisFree(context);
    return make_error(ErrorCode::kRetryable, "{}: cannot connect: {}", where, why);
  }
  redisSetTimeout(context, to_timeval(kCommandTimeout));
  std::unique_ptr<Connection> connection(new Connection(context, options));
  if (!options.password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!options.user.empty()) {
      auth.push_back(options.user);
    }
    auth.push_back(options.password);
    if (Result<Reply> r = connection->command(auth); !r) {
      return make_error(r.error().code(), "{}: authentication failed: {}", where,
                        r.error().message());
    }
  }
  if (db != 0) {
    if (Status s = connection->select(db); !s) {
      return fail(s.error());
    }
  }
  return connection;
}

Connection::~Connection() {
  redisFree(context_);
}

Error Connection::io_error(std::string_view what) const {
  return Error(ErrorCode::kRetryable, fmt::format("redis {}:{}: {}: {}", options_.host,
                                                  options_.port, what, context_->errstr));
}

void Connection::append(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (std::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data());
}

Result<Reply> Connection::read() {
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
    return fail(io_error("connection lost"));
  }
  return Reply(static_cast<redisReply*>(raw));
}

Result<Reply> Connection::command(const std::vector<std::string_view>& args) {
  append(args);
  Result<Reply> reply = read();
  if (!reply) {
    return reply;
  }
  if ((*reply)->type == REDIS_REPLY_ERROR) {
    const std::string_view message = reply_text(**reply);
    return make_error(classify_error(message, false), "{}: {}", args.front(), message);
  }
  return reply;
}

Status Connection::select(int db) {
  if (db == db_) {
    return ok();
  }
  const std::string index = std::to_string(db);
  if (Result<Reply> r = command({"SELECT", index}); !r) {
    return make_error(r.error().code(), "redis {}:{}: cannot select database {}: {}", options_.host,
                      options_.port, db, r.error().message());
  }
  db_ = db;
  return ok();
}

Result<std::vector<Reply>> Connection::poll_messages(std::chrono::milliseconds wait) {
  std::vector<Reply> messages;
  auto take_buffered = [&]() -> Status {
    while (true) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) {
        return fail(io_error("reading notifications"));
      }
      if (raw == nullptr) {
        return ok();
      }
      messages.emplace_back(static_cast<redisReply*>(raw));
    }
  };
  if (Status s = take_buffered(); !s) {
    return fail(s.error());
  }
  pollfd fd{.fd = context_->fd, .events = POLLIN, .revents = 0};
  int timeout = messages.empty() ? static_cast<int>(wait.count()) : 0;
  while (::poll(&fd, 1, timeout) > 0) {
    if (redisBufferRead(context_) != REDIS_OK) {
      return fail(io_error("reading notifications"));
    }
    if (Status s = take_buffered(); !s) {
      return fail(s.error());
    }
    timeout = 0;
    fd.revents = 0;
    if (messages.size() >= 10000) {
      break;
    }
  }
  return messages;
}

}  // namespace megasync::connectors::redis
