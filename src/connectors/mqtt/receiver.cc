#include "connectors/mqtt/receiver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace megasync::connectors::mqtt {
namespace {

// The packet id of our SUBSCRIBE (the only packet we number).
constexpr std::uint16_t kSubscribeId = 1;

// The most a read_available() takes in one call (the rest at the next).
constexpr std::size_t kReadChunk = 1 << 20;

int poll_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<std::int64_t>(d.count(), 0, 60000));
}

// OpenSSL's queued errors as text (the queue emptied).
std::string tls_errors() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    text += text.empty() ? "" : "; ";
    text += buffer;
  }
  return text.empty() ? std::string(std::strerror(errno)) : text;
}

bool is_address(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

}  // namespace

Result<std::unique_ptr<Receiver>> Receiver::connect(const MqttOptions& options,
                                                    const std::string& client_id,
                                                    std::uint16_t receive_maximum,
                                                    OnPublish on_publish, Deadline deadline) {
  std::unique_ptr<Receiver> r(new Receiver(options, std::move(on_publish)));
  if (Status s = r->open_socket(deadline); !s) {
    return fail(s.error());
  }
  ConnectParams params;
  params.protocol = options.protocol;
  params.client_id = client_id;
  params.clean_start = false;
  params.keepalive_s = static_cast<std::uint16_t>(options.keepalive_s);
  params.user = options.user;
  params.password = options.password;
  params.session_expiry_s = options.session_expiry_s;
  params.receive_maximum = std::max<std::uint16_t>(receive_maximum, 1);
  r->keepalive_ = std::chrono::seconds(options.keepalive_s);
  r->out_ = encode_connect(params);
  while (!r->connack_) {
    if (deadline.expired()) {
      return make_error(ErrorCode::kRetryable,
                        "endpoint {}: MQTT broker {} sent no CONNACK in time", options.name,
                        display(options));
    }
    if (Status s = r->pump(deadline.remaining()); !s) {
      return fail(s.error());
    }
  }
  const Connack& connack = *r->connack_;
  if (connack.reason != 0) {
    const bool permanent = connack_permanent(connack.reason, options.protocol);
    return make_error(permanent ? ErrorCode::kInvalidConfig : ErrorCode::kRetryable,
                      "endpoint {}: MQTT broker {} refused the connection: {}{}", options.name,
                      display(options), connack_text(connack.reason, options.protocol),
                      permanent ? "; check user, password, client_id and protocol" : "");
  }
  r->session_present_ = connack.session_present;
  if (connack.properties.server_keep_alive) {
    // v5: the broker's keepalive replaces ours (0: none).
    r->keepalive_ = std::chrono::seconds(*connack.properties.server_keep_alive);
  }
  return r;
}

Receiver::~Receiver() {
  if (tls_ != nullptr) {
    SSL_free(tls_);
  }
  if (tls_context_ != nullptr) {
    SSL_CTX_free(tls_context_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Status Receiver::lost(std::string_view what) const {
  return make_error(ErrorCode::kRetryable, "endpoint {}: connection to MQTT broker {}: {}",
                    options_.name, display(options_), what);
}

Status Receiver::open_socket(Deadline deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options_.port);
  const int rc = ::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return make_error(ErrorCode::kRetryable,
                      "endpoint {}: cannot resolve MQTT broker host {:?}: {}", options_.name,
                      options_.host, ::gai_strerror(rc));
  }
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int ready = 0;
        do {
          ready = ::poll(&p, 1, poll_ms(deadline.remaining()));
        } while (ready < 0 && errno == EINTR);
        socklen_t len = sizeof err;
        if (ready == 0) {
          err = ETIMEDOUT;
        } else if (ready < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
          err = errno;
        }
      }
    }
    if (err != 0) {
      last_error = std::strerror(err);
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) {
    return make_error(ErrorCode::kRetryable, "endpoint {}: cannot connect to MQTT broker {}: {}",
                      options_.name, display(options_), last_error);
  }
  last_sent_ = SteadyClock::now();
  if (!options_.ca_file.empty()) {
    return start_tls(deadline);
  }
  return ok();
}

Status Receiver::start_tls(Deadline deadline) {
  ERR_clear_error();
  tls_context_ = SSL_CTX_new(TLS_client_method());
  if (tls_context_ == nullptr) {
    return make_error(ErrorCode::kPermanent, "endpoint {}: TLS: {}", options_.name, tls_errors());
  }
  SSL_CTX_set_min_proto_version(tls_context_, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(tls_context_, options_.ca_file.c_str(), nullptr) != 1) {
    return make_error(ErrorCode::kInvalidConfig, "endpoint {}: ca_file {:?}: {}", options_.name,
                      options_.ca_file, tls_errors());
  }
  SSL_CTX_set_verify(tls_context_, SSL_VERIFY_PEER, nullptr);
  tls_ = SSL_new(tls_context_);
  if (tls_ == nullptr || SSL_set_fd(tls_, fd_) != 1) {
    return make_error(ErrorCode::kPermanent, "endpoint {}: TLS: {}", options_.name, tls_errors());
  }
  // Partial writes, and a buffer that may move between the retries of one.
  SSL_set_mode(tls_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!is_address(options_.host)) {
    SSL_set_tlsext_host_name(tls_, options_.host.c_str());
  }
  // The certificate must name the host (its IP address entries for an address).
  const bool named =
      options_.tls_insecure ||
      (is_address(options_.host)
           ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls_), options_.host.c_str()) == 1
           : SSL_set1_host(tls_, options_.host.c_str()) == 1);
  if (!named) {
    return make_error(ErrorCode::kPermanent, "endpoint {}: TLS: {}", options_.name, tls_errors());
  }
  while (true) {
    ERR_clear_error();
    const int rc = SSL_connect(tls_);
    if (rc == 1) {
      return ok();
    }
    const int err = SSL_get_error(tls_, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      const long verify = SSL_get_verify_result(tls_);
      if (verify != X509_V_OK) {
        return make_error(ErrorCode::kInvalidConfig,
                          "endpoint {}: MQTT broker {}: its TLS certificate is refused: {} "
                          "(checked against ca_file {:?}{})",
                          options_.name, display(options_), X509_verify_cert_error_string(verify),
                          options_.ca_file, options_.tls_insecure ? "" : " and the host name");
      }
      return make_error(ErrorCode::kRetryable, "endpoint {}: TLS handshake with {}: {}",
                        options_.name, display(options_), tls_errors());
    }
    if (deadline.expired()) {
      return make_error(ErrorCode::kRetryable, "endpoint {}: TLS handshake with {} timed out",
                        options_.name, display(options_));
    }
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    (void)::poll(&p, 1, poll_ms(std::min(deadline.remaining(), std::chrono::milliseconds(100))));
  }
}

Status Receiver::subscribe(const std::vector<std::string>& filters, Deadline deadline) {
  if (filters.empty()) {
    return ok();
  }
  suback_.reset();
  out_ += encode_subscribe(kSubscribeId, filters, options_.qos, options_.protocol);
  while (!suback_) {
    if (deadline.expired()) {
      return make_error(ErrorCode::kRetryable, "endpoint {}: MQTT broker {} sent no SUBACK in time",
                        options_.name, display(options_));
    }
    if (Status s = pump(deadline.remaining()); !s) {
      return s;
    }
  }
  if (suback_->codes.size() != filters.size()) {
    return lost(fmt::format("protocol error: a SUBACK with {} codes for {} filters",
                            suback_->codes.size(), filters.size()));
  }
  for (std::size_t i = 0; i < filters.size(); ++i) {
    if (suback_->codes[i] >= 0x80) {
      return make_error(
          ErrorCode::kPermanent, "endpoint {}: MQTT broker {} refused the subscription to {:?}: {}",
          options_.name, display(options_), filters[i], reason_text(suback_->codes[i]));
    }
  }
  return ok();
}

Status Receiver::poll(std::chrono::milliseconds timeout) {
  const SteadyTime now = SteadyClock::now();
  if (keepalive_.count() > 0) {
    if (ping_outstanding_ && now - ping_sent_ > keepalive_) {
      return lost("no PINGRESP within the keepalive");
    }
    if (!ping_outstanding_ && now - last_sent_ >= keepalive_ / 2) {
      out_ += encode_pingreq();
      ping_outstanding_ = true;
      ping_sent_ = now;
    }
    // Wake up in time for the next ping.
    const auto until_ping =
        std::chrono::duration_cast<std::chrono::milliseconds>(last_sent_ + keepalive_ / 2 - now);
    timeout = std::max(std::chrono::milliseconds(0), std::min(timeout, until_ping));
  }
  return pump(timeout);
}

Status Receiver::puback(std::uint16_t packet_id) {
  out_ += encode_puback(packet_id);
  return write_queued();
}

void Receiver::disconnect(std::optional<std::uint32_t> session_expiry_s) {
  if (fd_ < 0) {
    return;
  }
  out_ += encode_disconnect(options_.protocol, session_expiry_s);
  const Deadline deadline = Deadline::after(std::chrono::seconds(2));
  while (!out_.empty() && !deadline.expired()) {
    if (Status s = pump(std::min(deadline.remaining(), std::chrono::milliseconds(100))); !s) {
      break;
    }
  }
  ::shutdown(fd_, SHUT_RDWR);
}

Status Receiver::pump(std::chrono::milliseconds timeout) {
  if (fd_ < 0) {
    return lost("closed");
  }
  if (Status s = write_queued(); !s) {
    return s;
  }
  if (tls_ != nullptr && SSL_pending(tls_) > 0) {
    return read_available();  // decrypted already: the socket may have nothing more
  }
  pollfd p{fd_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0};
  const int ready = ::poll(&p, 1, poll_ms(timeout));
  if (ready < 0) {
    return errno == EINTR ? ok() : lost(std::strerror(errno));
  }
  if (ready == 0) {
    return ok();
  }
  if ((p.revents & POLLOUT) != 0) {
    if (Status s = write_queued(); !s) {
      return s;
    }
  }
  if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    return read_available();
  }
  return ok();
}

Status Receiver::write_queued() {
  while (!out_.empty()) {
    if (tls_ != nullptr) {
      ERR_clear_error();
      const int n = SSL_write(tls_, out_.data(),
                              static_cast<int>(std::min<std::size_t>(out_.size(), 1 << 30)));
      if (n <= 0) {
        const int err = SSL_get_error(tls_, n);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
          return ok();  // the rest when the socket takes it
        }
        return lost(fmt::format("TLS: {}", tls_errors()));
      }
      out_.erase(0, static_cast<std::size_t>(n));
      last_sent_ = SteadyClock::now();
      continue;
    }
    const ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return ok();  // the rest when the socket takes it
      }
      return lost(std::strerror(errno));
    }
    out_.erase(0, static_cast<std::size_t>(n));
    last_sent_ = SteadyClock::now();
  }
  return ok();
}

Status Receiver::read_available() {
  char buffer[65536];
  std::size_t taken = 0;
  while (taken < kReadChunk) {
    ssize_t n = 0;
    if (tls_ != nullptr) {
      ERR_clear_error();
      n = SSL_read(tls_, buffer, sizeof buffer);
      if (n <= 0) {
        const int err = SSL_get_error(tls_, static_cast<int>(n));
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          break;
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
          return lost("closed by the broker");
        }
        return lost(fmt::format("TLS: {}", tls_errors()));
      }
    } else {
      n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n == 0) {
        return lost("closed by the broker");
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          break;
        }
        if (errno == EINTR) {
          continue;
        }
        return lost(std::strerror(errno));
      }
    }
    taken += static_cast<std::size_t>(n);
    in_.append(buffer, static_cast<std::size_t>(n));
    // Handle the whole packets read so far.
    std::size_t used = 0;
    while (true) {
      Result<std::optional<Frame>> frame =
          next_frame(std::string_view(in_).substr(used), kMaxVarint);
      if (!frame) {
        return lost(fmt::format("protocol error: {}", frame.error().message()));
      }
      if (!*frame) {
        break;
      }
      if (Status s = handle(**frame); !s) {
        return s;
      }
      used += (*frame)->size;
    }
    in_.erase(0, used);
  }
  return ok();
}

Status Receiver::handle(const Frame& frame) {
  const int protocol = options_.protocol;
  auto protocol_error = [&](const Error& e) {
    return lost(fmt::format("protocol error: {}", e.message()));
  };
  switch (static_cast<PacketType>(frame.type)) {
    case PacketType::kConnack: {
      if (connack_) {
        return lost("protocol error: a second CONNACK");
      }
      Result<Connack> connack = decode_connack(frame.body, protocol);
      if (!connack) {
        return protocol_error(connack.error());
      }
      connack_ = std::move(*connack);
      return ok();
    }
    case PacketType::kSuback: {
      Result<Suback> suback = decode_suback(frame.body, protocol);
      if (!suback) {
        return protocol_error(suback.error());
      }
      if (suback->packet_id == kSubscribeId) {
        suback_ = std::move(*suback);
      }
      return ok();
    }
    case PacketType::kPublish: {
      if (!connack_) {
        return lost("protocol error: a PUBLISH before the CONNACK");
      }
      Result<Publish> publish = decode_publish(frame.flags, frame.body, protocol);
      if (!publish) {
        return protocol_error(publish.error());
      }
      if (publish->qos > 1) {
        return lost("protocol error: a QoS 2 PUBLISH (subscribed at QoS 1 at most)");
      }
      if (const auto alias = publish->properties.topic_alias) {
        // Never asked for (Topic Alias Maximum 0), but followed if sent.
        if (!publish->topic.empty()) {
          aliases_[*alias] = publish->topic;
        } else if (auto it = aliases_.find(*alias); it != aliases_.end()) {
          publish->topic = it->second;
        } else {
          return lost(fmt::format("protocol error: unknown topic alias {}", *alias));
        }
      }
      if (publish->topic.empty()) {
        return lost("protocol error: a PUBLISH without a topic");
      }
      on_publish_(std::move(*publish));
      return ok();
    }
    case PacketType::kPingresp:
      ping_outstanding_ = false;
      return ok();
    case PacketType::kDisconnect: {
      Result<Disconnect> disconnect = decode_disconnect(frame.body, protocol);
      if (!disconnect) {
        return protocol_error(disconnect.error());
      }
      std::string why = reason_text(disconnect->reason);
      if (disconnect->properties.reason_string) {
        why += ": " + *disconnect->properties.reason_string;
      }
      return lost(fmt::format("the broker disconnected: {}", why));
    }
    default:
      return lost(fmt::format("protocol error: unexpected packet type {}", frame.type));
  }
}

}  // namespace megasync::connectors::mqtt
