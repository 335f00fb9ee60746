// The redis connector's I/O: one hiredis 0.14 connection (RESP2; Redis 7
// speaks it by default), with pipelining, a subscriber mode for keyspace
// notifications, and one classify_error mapping what fails to retryable or
// permanent.
//
// A Connection is used by one thread only. hiredis 0.14 has no TLS.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/redis/keys.h"
#include "core/cancel.h"
#include "core/error.h"

namespace megasync::connectors::redis {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // ACL user; empty: AUTH with the password only
  std::string password;  // empty: no AUTH
  // The database this endpoint reads (as a source, the first of `databases`)
  // or writes every collection to (as a target); nullopt: a target writes
  // collection "dbN" to database N.
  std::optional<int> db;
  std::vector<int> databases;  // a source's databases; empty: {db or 0}
  KeyFilter keys;
  // Turn on the notify-keyspace-events flags the source needs (CONFIG SET)
  // when they are off.
  bool configure_notifications = true;
  std::string name;  // the endpoint's name, for messages
};

// Fills host, port, user, password and db from redis://[user[:password]@]host[:port][/db]
// (a `:password@` without user is AUTH with the password only). kInvalidConfig
// (never quoting the URL) when it is not of that form.
Status parse_url(std::string_view url, RedisOptions& options);

struct ReplyFree {
  void operator()(redisReply* reply) const {
    if (reply != nullptr) {
      freeReplyObject(reply);
    }
  }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// The text of a string/status/error reply.
std::string_view reply_text(const redisReply& reply);

// Retryable for connection loss, timeouts and a server that is loading or
// busy; permanent for authentication, permissions and anything else.
ErrorCode classify_error(std::string_view message, bool io_error);

class Connection {
 public:
  // Connects before `deadline`, authenticates, and selects `db`.
  static Result<std::unique_ptr<Connection>> open(const RedisOptions& options, Deadline deadline,
                                                  int db);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One command; an error reply is an error (classified).
  Result<Reply> command(const std::vector<std::string_view>& args);
  // Pipelining: queue commands, then read their replies in order. An error
  // reply is returned as a reply (the caller decides), an I/O error as an error.
  void append(const std::vector<std::string_view>& args);
  Result<Reply> read();
  // SELECT db unless it is the current one.
  Status select(int db);

  // Subscriber mode: waits up to `wait` for data and returns the messages
  // already received (none when nothing came). An I/O error (the server went
  // away) is a retryable error.
  Result<std::vector<Reply>> poll_messages(std::chrono::milliseconds wait);

  const RedisOptions& options() const { return options_; }

 private:
  Connection(redisContext* context, RedisOptions options)
      : context_(context), options_(std::move(options)) {}
  Error io_error(std::string_view what) const;

  redisContext* context_;
  RedisOptions options_;
  int db_ = 0;
};

}  // namespace megasync::connectors::redis
