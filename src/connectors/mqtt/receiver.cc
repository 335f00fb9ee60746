#include "connectors/mqtt/receiver.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

int poll_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<std::int64_t>(d.count(), 0, 60000));
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
  return ok();
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
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
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
    if (static_cast<std::size_t>(n) < sizeof buffer) {
      break;  // drained
    }
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
