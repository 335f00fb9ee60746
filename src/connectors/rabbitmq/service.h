// The rabbitmq connector's I/O: one rabbitmq-c 0.11 connection with one
// channel (AMQP 0-9-1 over TCP), its settings, and one classify mapping what
// fails to retryable or permanent.
//
// A Connection is used by one thread only. After any error it is broken
// (broken() is true) and must be replaced: rabbitmq-c's state after a failed
// call, or a channel the broker closed, is not worth repairing.
#pragma once

#include <amqp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/error.h"

namespace megasync::connectors::rabbitmq {

struct RabbitOptions {
  std::string name;  // the endpoint's name, for messages
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string vhost = "/";
  std::string user = "guest";
  std::string password = "guest";
  int heartbeat_s = 30;  // 0: none
  // Source.
  std::vector<std::string> queues;
  bool declare = false;  // declare the queues (durable) instead of requiring them
  int prefetch = 1000;
  // Target.
  std::string exchange;                 // "" = the default exchange
  std::string routing_key = "{topic}";  // a MessageTemplate
  std::vector<std::string> declare_queues;
  bool persistent = true;
  bool mandatory = true;
  std::chrono::milliseconds confirm_timeout{30000};
};

// The channel every connection uses.
inline constexpr amqp_channel_t kChannel = 1;

// Retryable for connection loss, timeouts and a broker shutting down or
// overloaded; permanent for refused access, missing or mismatching objects
// (404, 406, 403, 530) and anything else the broker rejects.
ErrorCode classify_reply_code(int code);

class Connection {
 public:
  // Connects before `deadline` (TCP, login, channel 1 open). Never names the
  // password.
  static Result<std::unique_ptr<Connection>> open(const RabbitOptions& options, Deadline deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  amqp_connection_state_t state() { return state_; }
  const RabbitOptions& options() const { return options_; }
  bool broken() const { return broken_; }

  // The outcome of the last synchronous call (amqp_get_rpc_reply), as a
  // Status naming `what`; marks the connection broken on failure.
  Status check(std::string_view what);
  // An error for `reply` (a library error or the broker closing the channel
  // or connection), naming `what`; marks the connection broken.
  Error reply_error(const amqp_rpc_reply_t& reply, std::string_view what);
  // An error for a rabbitmq-c status code (amqp_status_enum); marks broken.
  Error status_error(int status, std::string_view what);
  // An error for a close method the broker sent (channel.close,
  // connection.close); marks broken.
  Error close_error(const amqp_method_t& method, std::string_view what);

  // Declares `queue` durable (passive: only checks that it exists). Returns
  // how many of its messages are ready for delivery (those delivered and not
  // acked yet are not counted).
  Result<std::uint32_t> declare_queue(const std::string& queue, bool passive);

 private:
  Connection(amqp_connection_state_t state, RabbitOptions options)
      : state_(state), options_(std::move(options)) {}
  Error make(ErrorCode code, std::string_view what, std::string_view detail);

  amqp_connection_state_t state_;
  RabbitOptions options_;
  bool broken_ = false;
  bool channel_open_ = false;
};

}  // namespace megasync::connectors::rabbitmq
