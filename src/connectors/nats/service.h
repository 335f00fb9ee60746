// The `nats` connector's shared pieces: the endpoint's settings, one
// connection to a NATS server (cnats 3.4) with its JetStream context, stream
// creation, and the pure helpers (subject matching, durable names, subject
// checks, error classification) that the source, sink and tests use.
//
// A Connection is owned by one user (the probe, a source, a sink) and used by
// that user's thread only; cnats runs its own threads for reading and
// reconnecting, which call back into the sink (its PubAck error handler) under
// the sink's own lock.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/duration.h"
#include "core/error.h"

namespace megasync::connectors::nats {

struct NatsOptions {
  std::string name;                  // the endpoint's name, for messages
  std::vector<std::string> servers;  // nats://host:port, one or more (a cluster)
  std::optional<std::string> user;
  std::optional<std::string> password;
  std::optional<std::string> token;

  // Source: the JetStream stream read, the subjects kept (NATS wildcards; empty:
  // all of the stream's), the durable consumer (empty: derived from the job).
  std::string stream;
  std::vector<std::string> subjects;
  std::string durable;
  Duration ack_wait = std::chrono::seconds(60);
  std::int64_t max_ack_pending = 20000;

  // Source and target: create `stream` with these subjects when it is missing.
  std::vector<std::string> create_stream_subjects;

  // Target: the subject each message is published to (a MessageTemplate), and
  // whether to publish through JetStream (waiting for each PubAck) or core NATS.
  std::string subject_template = "{topic}";
  bool jetstream = true;
  Duration publish_timeout = std::chrono::seconds(30);
};

// The durable consumer name of a job that sets none: "megasync-<job>", with
// every character a consumer name may not hold ('.', '*', '>', whitespace,
// '/', '\\') replaced by '_'.
std::string default_durable(std::string_view job);

// True when `subject` matches the NATS subject filter `pattern` ("*" matches
// one token, a final ">" one or more).
bool subject_matches(std::string_view pattern, std::string_view subject);

// Empty when `subject` can be published to (non-empty tokens separated by '.',
// no whitespace, no wildcards); otherwise why not.
std::string invalid_subject(std::string_view subject);

// The error code of a failed cnats call: connection trouble and timeouts are
// kRetryable, refusals (authorization, protocol) kPermanent.
ErrorCode classify(natsStatus status);

// "<what>: <cnats text>[ (<last error>)]"; never names a credential (cnats'
// texts carry none: the server list is given without user info).
std::string describe_status(natsStatus status, std::string_view what);

// The servers without credentials, for messages ("nats://host:4222").
std::string display_servers(const std::vector<std::string>& servers);

class Connection {
 public:
  // Connects before `deadline`; reconnects on its own afterwards (forever,
  // every 500 ms), buffering publishes and acks meanwhile. `closure` and
  // `on_pub_error` receive JetStream PubAck failures of async publishes.
  static Result<std::unique_ptr<Connection>> open(const NatsOptions& options, Deadline deadline,
                                                  jsPubAckErrHandler on_pub_error = nullptr,
                                                  void* closure = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  natsConnection* nc() const { return nc_; }
  jsCtx* js() const { return js_; }
  const NatsOptions& options() const { return options_; }
  bool connected() const;

  // Ensures stream `name` exists: creates it with `subjects` when missing and
  // `subjects` is not empty; kInvalidConfig when it is missing and may not be
  // created.
  Status ensure_stream(const std::string& name, const std::vector<std::string>& subjects);

 private:
  explicit Connection(NatsOptions options) : options_(std::move(options)) {}

  NatsOptions options_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace megasync::connectors::nats
