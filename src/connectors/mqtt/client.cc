#include "connectors/mqtt/client.h"

#include <fmt/format.h>
#include <mqtt_protocol.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace megasync::connectors::mqtt {
namespace {

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

int to_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<std::int64_t>(d.count(), 0, 1000000));
}

}  // namespace

bool connack_permanent(int reason, int protocol) {
  if (protocol == 4) {
    return reason == 1 || reason == 2 || reason == 4 || reason == 5;
  }
  switch (reason) {
    case MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION:
    case MQTT_RC_CLIENTID_NOT_VALID:
    case MQTT_RC_BAD_USERNAME_OR_PASSWORD:
    case MQTT_RC_NOT_AUTHORIZED:
    case MQTT_RC_BANNED:
    case MQTT_RC_BAD_AUTHENTICATION_METHOD:
      return true;
    default:
      return false;
  }
}

std::string connack_text(int reason, int protocol) {
  if (protocol == 4) {
    return mosquitto_connack_string(reason);
  }
  return reason_text(reason);
}

std::string display(const MqttOptions& options) {
  return fmt::format("{}:{}", options.host, options.port);
}

std::string error_text(int rc) {
  if (rc == MOSQ_ERR_ERRNO) {
    return std::strerror(errno);
  }
  return mosquitto_strerror(rc);
}

std::string reason_text(int reason) {
  return fmt::format("{} (reason 0x{:02x})", mosquitto_reason_string(reason), reason);
}

Result<std::unique_ptr<Connection>> Connection::open(const MqttOptions& options,
                                                     const std::string& client_id, bool persistent,
                                                     Callbacks callbacks, Deadline deadline) {
  init_library();
  std::unique_ptr<Connection> c(new Connection(options));
  c->persistent_ = persistent;
  c->callbacks_ = std::move(callbacks);
  c->mosq_ = mosquitto_new(client_id.empty() ? nullptr : client_id.c_str(), !persistent, c.get());
  if (c->mosq_ == nullptr) {
    return make_error(ErrorCode::kPermanent, "endpoint {}: cannot create an MQTT client: {}",
                      options.name, std::strerror(errno));
  }
  mosquitto* m = c->mosq_;
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION,
                       options.protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, options.max_inflight);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  if (options.user || options.password) {
    const int rc =
        mosquitto_username_pw_set(m, options.user ? options.user->c_str() : nullptr,
                                  options.password ? options.password->c_str() : nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      return make_error(ErrorCode::kInvalidConfig, "endpoint {}: user/password: {}", options.name,
                        error_text(rc));
    }
  }
  if (!options.ca_file.empty()) {
    int rc = mosquitto_tls_set(m, options.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    if (rc == MOSQ_ERR_SUCCESS) {
      rc = mosquitto_tls_insecure_set(m, options.tls_insecure);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
      return make_error(ErrorCode::kInvalidConfig, "endpoint {}: ca_file {:?}: {}", options.name,
                        options.ca_file, error_text(rc));
    }
  }
  mosquitto_connect_v5_callback_set(
      m, [](mosquitto*, void* self, int reason, int flags, const mosquitto_property*) {
        auto* conn = static_cast<Connection*>(self);
        conn->connack_ = reason;
        conn->session_present_ = (flags & 1) != 0;
      });
  mosquitto_publish_v5_callback_set(
      m, [](mosquitto*, void* self, int mid, int reason, const mosquitto_property*) {
        auto* conn = static_cast<Connection*>(self);
        if (conn->callbacks_.on_publish) {
          conn->callbacks_.on_publish(mid, reason);
        }
      });
  if (Status s = c->connect_call(); !s) {
    return fail(s.error());
  }
  if (Status s = c->wait_connack(deadline); !s) {
    return fail(s.error());
  }
  return c;
}

Connection::~Connection() {
  if (mosq_ != nullptr) {
    mosquitto_disconnect(mosq_);
    mosquitto_destroy(mosq_);
  }
}

Status Connection::connect_call() {
  connack_.reset();
  mosquitto_property* properties = nullptr;
  if (options_.protocol == 5 && persistent_) {
    mosquitto_property_add_int32(&properties, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                 options_.session_expiry_s);
  }
  const int rc = mosquitto_connect_bind_v5(mosq_, options_.host.c_str(), options_.port,
                                           options_.keepalive_s, nullptr, properties);
  mosquitto_property_free_all(&properties);
  if (rc != MOSQ_ERR_SUCCESS) {
    return make_error(rc == MOSQ_ERR_INVAL ? ErrorCode::kInvalidConfig : ErrorCode::kRetryable,
                      "endpoint {}: cannot connect to MQTT broker {}: {}", options_.name,
                      display(options_), error_text(rc));
  }
  return ok();
}

Status Connection::wait_connack(Deadline deadline) {
  while (!connack_) {
    if (deadline.expired()) {
      return make_error(ErrorCode::kRetryable,
                        "endpoint {}: MQTT broker {} sent no CONNACK in time", options_.name,
                        display(options_));
    }
    const int rc = mosquitto_loop(
        mosq_, to_ms(std::min(deadline.remaining(), std::chrono::milliseconds(100))), 1);
    if (rc != MOSQ_ERR_SUCCESS && !connack_) {
      return make_error(ErrorCode::kRetryable,
                        "endpoint {}: MQTT broker {} closed the connection before accepting it: {}",
                        options_.name, display(options_), error_text(rc));
    }
  }
  if (*connack_ != 0) {
    const bool permanent = connack_permanent(*connack_, options_.protocol);
    return make_error(permanent ? ErrorCode::kInvalidConfig : ErrorCode::kRetryable,
                      "endpoint {}: MQTT broker {} refused the connection: {}{}", options_.name,
                      display(options_), connack_text(*connack_, options_.protocol),
                      permanent ? "; check user, password, client_id and protocol" : "");
  }
  return ok();
}

Status Connection::loop(std::chrono::milliseconds timeout) {
  const int rc = mosquitto_loop(mosq_, to_ms(timeout), 1);
  if (rc != MOSQ_ERR_SUCCESS) {
    return make_error(ErrorCode::kRetryable, "endpoint {}: connection to MQTT broker {} lost: {}",
                      options_.name, display(options_), error_text(rc));
  }
  return ok();
}

Status Connection::reconnect(Deadline deadline) {
  if (Status s = connect_call(); !s) {
    return s;
  }
  return wait_connack(deadline);
}

void Connection::disconnect(bool end_session) {
  if (options_.protocol == 5 && end_session) {
    mosquitto_property* properties = nullptr;
    mosquitto_property_add_int32(&properties, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 0);
    mosquitto_disconnect_v5(mosq_, 0, properties);
    mosquitto_property_free_all(&properties);
  } else {
    mosquitto_disconnect(mosq_);
  }
  (void)mosquitto_loop(mosq_, 0, 1);
}

}  // namespace megasync::connectors::mqtt
