#include "connectors/rabbitmq/service.h"

#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <sys/time.h>

#include <algorithm>

#include "connectors/rabbitmq/convert.h"

namespace megasync::connectors::rabbitmq {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

ErrorCode classify_reply_code(int code) {
  switch (code) {
    case AMQP_CONNECTION_FORCED:  // 320: the broker is shutting down
    case AMQP_RESOURCE_ERROR:     // 506
    case AMQP_INTERNAL_ERROR:     // 541
    case AMQP_CHANNEL_ERROR:      // 504
    case AMQP_FRAME_ERROR:        // 501
    case AMQP_RESOURCE_LOCKED:    // 405: an exclusive consumer elsewhere
      return ErrorCode::kRetryable;
    default:
      return ErrorCode::kPermanent;
  }
}

Result<std::unique_ptr<Connection>> Connection::open(const RabbitOptions& options,
                                                     Deadline deadline) {
  amqp_connection_state_t state = amqp_new_connection();
  if (state == nullptr) {
    return make_error(ErrorCode::kRetryable, "endpoint {}: out of memory", options.name);
  }
  std::unique_ptr<Connection> connection(new Connection(state, options));
  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  if (socket == nullptr) {
    return fail(connection->make(ErrorCode::kRetryable, "connect", "cannot create a socket"));
  }
  const std::chrono::milliseconds left = std::clamp(
      deadline.remaining(), std::chrono::milliseconds(1), std::chrono::milliseconds(60000));
  timeval tv = to_timeval(left);
  if (int status = amqp_socket_open_noblock(socket, options.host.c_str(), options.port, &tv);
      status != AMQP_STATUS_OK) {
    return fail(connection->status_error(
        status, fmt::format("connect to {}:{}", options.host, options.port)));
  }
  // Bounds the login and every later synchronous call.
  timeval rpc = to_timeval(std::max(left, std::chrono::milliseconds(30000)));
  amqp_set_handshake_timeout(state, &tv);
  amqp_set_rpc_timeout(state, &rpc);
  amqp_rpc_reply_t login =
      amqp_login(state, options.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, options.heartbeat_s,
                 AMQP_SASL_METHOD_PLAIN, options.user.c_str(), options.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    Error error = connection->reply_error(
        login, fmt::format("log in as {} to vhost {}", options.user, options.vhost));
    // A refused login closes the socket: rabbitmq-c reports a library error.
    if (login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        login.library_error == AMQP_STATUS_CONNECTION_CLOSED) {
      error = Error(ErrorCode::kPermanent, error.message() +
                                               " (the broker closed the connection: check user, "
                                               "password and the user's access to the vhost)");
    }
    return fail(error);
  }
  amqp_channel_open(state, kChannel);
  if (Status s = connection->check("open channel"); !s) {
    return fail(s.error());
  }
  connection->channel_open_ = true;
  return connection;
}

Connection::~Connection() {
  if (!broken_) {
    if (channel_open_) {
      amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
    }
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_);
}

Error Connection::make(ErrorCode code, std::string_view what, std::string_view detail) {
  if (code != ErrorCode::kInvalidConfig) {
    broken_ = true;
  }
  return Error(code, fmt::format("endpoint {}: {}: {}", options_.name, what, detail));
}

Status Connection::check(std::string_view what) {
  amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    return ok();
  }
  return fail(reply_error(reply, what));
}

Error Connection::reply_error(const amqp_rpc_reply_t& reply, std::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return status_error(reply.library_error, what);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      return close_error(reply.reply, what);
    default:
      return make(ErrorCode::kRetryable, what, "no reply from the broker");
  }
}

Error Connection::status_error(int status, std::string_view what) {
  return make(ErrorCode::kRetryable, what, amqp_error_string2(status));
}

Error Connection::close_error(const amqp_method_t& method, std::string_view what) {
  int code = 0;
  std::string text;
  std::string_view scope = "connection";
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
    code = close->reply_code;
    text = to_string(close->reply_text);
    scope = "channel";
    // Answer it, so that the connection stays consistent until it is closed.
    amqp_channel_close_ok_t close_ok{};
    amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
    channel_open_ = false;
  } else if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
    code = close->reply_code;
    text = to_string(close->reply_text);
    amqp_connection_close_ok_t close_ok{};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
  } else {
    return make(ErrorCode::kRetryable, what,
                fmt::format("unexpected method {} from the broker", amqp_method_name(method.id)));
  }
  Error error = make(classify_reply_code(code), what,
                     fmt::format("the broker closed the {} ({})", scope, text));
  // Closed by the broker: nothing left to close.
  channel_open_ = false;
  return error;
}

Result<std::uint32_t> Connection::declare_queue(const std::string& queue, bool passive) {
  amqp_queue_declare_ok_t* declared =
      amqp_queue_declare(state_, kChannel, to_bytes(queue), passive ? 1 : 0, /*durable=*/1,
                         /*exclusive=*/0, /*auto_delete=*/0, amqp_empty_table);
  if (Status s = check(fmt::format("{} queue {}", passive ? "find" : "declare", queue)); !s) {
    if (passive && s.error().message().find("NOT_FOUND") != std::string::npos) {
      return make_error(ErrorCode::kInvalidConfig,
                        "{} (create it, or set declare: true on the endpoint)",
                        s.error().message());
    }
    return fail(s.error());
  }
  return declared->message_count;
}

}  // namespace megasync::connectors::rabbitmq
