// The mqtt connector's settings and its libmosquitto connection to a broker
// (libmosquitto 2.0, MQTT v5 or 3.1.1), used by the probe, the sink and the
// session clean-up. The source receives with its own client (receiver.h):
// libmosquitto acknowledges messages before the application has them.
//
// libmosquitto runs without its own thread here: the owner drives the network
// loop (loop()) on its thread, and the callbacks (messages, PUBACKs, SUBACKs)
// run inside loop() on that thread. mosquitto_lib_init() runs once per
// process (std::call_once).
//
// Thread-safety: one Connection is used by one thread at a time.
#pragma once

#include <mosquitto.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mqtt/convert.h"
#include "core/cancel.h"
#include "core/error.h"

namespace megasync::connectors::mqtt {

struct MqttOptions {
  std::string name;  // the endpoint's, for messages
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string client_id;  // empty: derived from the job (source), generated (sink)
  std::optional<std::string> user;
  std::optional<std::string> password;  // secret
  std::string ca_file;                  // TLS when set
  bool tls_insecure = false;            // skip the host name check (tests only)
  int keepalive_s = 30;
  int qos = 1;
  int protocol = 5;  // 5 or 4 (3.1.1)
  PropertyNames properties;
  // Source
  std::vector<std::string> topics;
  std::uint32_t session_expiry_s = 7 * 24 * 3600;
  std::int64_t max_unreleased = 10000;
  // Target
  std::string topic_template = "{topic}";
  bool retain = false;
  int max_inflight = 1000;
  std::chrono::milliseconds publish_timeout{30000};
};

// "host:port" (never a credential).
std::string display(const MqttOptions& options);
// Text of a libmosquitto result (MOSQ_ERR_*), errno's text for MOSQ_ERR_ERRNO.
std::string error_text(int rc);
// Text of an MQTT v5 reason code.
std::string reason_text(int reason);
// Whether a CONNACK reason code (v5) or return code (3.1.1: `protocol` 4)
// is one retrying cannot fix (credentials, client id, protocol, banned).
bool connack_permanent(int reason, int protocol);
// Text of a CONNACK reason or return code.
std::string connack_text(int reason, int protocol);

class Connection {
 public:
  struct Callbacks {
    // The PUBACK of a message published (QoS 0: once written), with its v5
    // reason code (0 with 3.1.1).
    std::function<void(int mid, int reason)> on_publish;
  };

  // Connects and waits for the CONNACK before `deadline`. `persistent`: a
  // session the broker keeps (clean start off, v5 session expiry); otherwise
  // a clean one. An empty `client_id` lets the library make one up (clean
  // sessions only).
  static Result<std::unique_ptr<Connection>> open(const MqttOptions& options,
                                                  const std::string& client_id, bool persistent,
                                                  Callbacks callbacks, Deadline deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  mosquitto* mosq() { return mosq_; }
  // Whether the broker still had the session (after open or reconnect).
  bool session_present() const { return session_present_; }
  // Runs the network loop for up to `timeout`: reads, writes, keepalive. An
  // error when the connection is lost (kRetryable).
  Status loop(std::chrono::milliseconds timeout);
  // Connects again (after a loss) and waits for the CONNACK.
  Status reconnect(Deadline deadline);
  // Sends DISCONNECT; with `end_session`, tells a v5 broker to drop the session.
  void disconnect(bool end_session);

 private:
  explicit Connection(const MqttOptions& options) : options_(options) {}
  Status wait_connack(Deadline deadline);
  Status connect_call();

  MqttOptions options_;
  mosquitto* mosq_ = nullptr;
  bool persistent_ = false;
  Callbacks callbacks_;
  std::optional<int> connack_;  // the reason of the last CONNACK
  bool session_present_ = false;
};

}  // namespace megasync::connectors::mqtt
