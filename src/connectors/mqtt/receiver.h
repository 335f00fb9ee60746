// The mqtt source's own MQTT client (v5 and 3.1.1, TCP, or TLS with OpenSSL
// when the options set a ca_file): one connection that subscribes and
// receives, and acknowledges a QoS 1 message only when its owner says so
// (puback()).
//
// Why not libmosquitto (which the sink and the probe use): libmosquitto 2.0
// and Eclipse Paho C both send the PUBACK of a QoS 1 message before the
// application sees it, so a crash would lose what was received and not yet
// at every target. With the PUBACK in its owner's hands, what was not
// acknowledged comes again (DUP set) from the broker's persistent session
// after a reconnect or a restart: at least once.
//
// The socket is non-blocking; every wait is a poll() bounded by a deadline or
// the timeout given (the TLS handshake too). TLS checks the broker's
// certificate against ca_file and, unless tls_insecure, that it names host.
// Packets are framed and decoded by packet.h. A packet the protocol does not
// allow here (QoS 2, AUTH, a malformed one) fails the call with kRetryable
// ("protocol error"): the owner drops the connection and connects again. A
// packet id means something on its connection only: at the next connection
// the broker resends what was not acknowledged and reuses ids, so the owner
// forgets the acknowledgements it held.
//
// Thread-safety: one Receiver is used by one thread at a time; on_publish runs
// on it, inside connect(), subscribe() and poll().
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mqtt/client.h"
#include "connectors/mqtt/packet.h"
#include "core/cancel.h"
#include "core/error.h"

namespace megasync::connectors::mqtt {

class Receiver {
 public:
  using OnPublish = std::function<void(Publish&&)>;

  // Connects to the options' broker (TCP, then CONNECT / CONNACK) before
  // `deadline` with clean start off (a persistent session, v5 session expiry
  // options.session_expiry_s) and the v5 Receive Maximum `receive_maximum`
  // (the most QoS 1 messages the broker sends unacknowledged). Errors: the
  // broker unreachable or unavailable kRetryable; refused credentials, client
  // id or protocol kInvalidConfig.
  static Result<std::unique_ptr<Receiver>> connect(const MqttOptions& options,
                                                   const std::string& client_id,
                                                   std::uint16_t receive_maximum,
                                                   OnPublish on_publish, Deadline deadline);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Whether the broker still had the session (from the CONNACK).
  bool session_present() const { return session_present_; }
  // Subscribes `filters` at the options' QoS (v5: retained messages only for
  // new subscriptions) and waits for the SUBACK; messages arriving meanwhile
  // go to on_publish. A filter refused is kPermanent.
  Status subscribe(const std::vector<std::string>& filters, Deadline deadline);
  // Waits up to `timeout` for the socket, reads what came (on_publish for
  // each message), writes what is queued, pings when the connection was
  // idle for half the keepalive. kRetryable when the connection is lost,
  // the broker disconnects, or breaks the protocol.
  Status poll(std::chrono::milliseconds timeout);
  // Queues the PUBACK of `packet_id` (sent by this call when the socket takes
  // it, else by the next poll). The caller keeps the order of the PUBLISHes.
  Status puback(std::uint16_t packet_id);
  // Sends DISCONNECT (best effort, never blocks long); v5 with
  // `session_expiry_s`: a new session expiry (0 ends the session).
  void disconnect(std::optional<std::uint32_t> session_expiry_s);

 private:
  Receiver(const MqttOptions& options, OnPublish on_publish)
      : options_(options), on_publish_(std::move(on_publish)) {}
  Status open_socket(Deadline deadline);
  Status start_tls(Deadline deadline);
  // Waits for the socket until `deadline` (at most `timeout`), reads, writes.
  Status pump(std::chrono::milliseconds timeout);
  Status read_available();
  Status write_queued();
  Status handle(const Frame& frame);
  Status lost(std::string_view what) const;

  MqttOptions options_;
  OnPublish on_publish_;
  int fd_ = -1;
  SSL_CTX* tls_context_ = nullptr;  // TLS only
  SSL* tls_ = nullptr;
  std::string in_;   // bytes read, not yet a whole packet
  std::string out_;  // bytes to write
  std::chrono::seconds keepalive_{30};
  SteadyTime last_sent_{};
  SteadyTime ping_sent_{};  // when the PINGREQ without its PINGRESP yet went out
  bool ping_outstanding_ = false;
  bool session_present_ = false;
  std::optional<Connack> connack_;
  std::optional<Suback> suback_;
  std::map<std::uint16_t, std::string> aliases_;  // v5 topic aliases of this connection
};

}  // namespace megasync::connectors::mqtt
