#include "connectors/rabbitmq/source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>

#include <algorithm>

#include "connectors/rabbitmq/convert.h"
#include "core/redact.h"

namespace megasync::connectors::rabbitmq {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{30000};
constexpr std::chrono::milliseconds kGiveUpAfter{60000};
// Once a batch has a message, how long to wait for the next before returning it.
constexpr std::chrono::milliseconds kLinger{10};
// How long to wait for a first message even when `until` is now (a run that
// stops once caught up): the broker pushes deliveries, so an empty buffer
// says nothing until it had a moment to send what the queue holds.
constexpr std::chrono::milliseconds kFirstWait{200};
// How long queues may report ready messages that the broker does not deliver
// (another consumer is the single active one, say) before a run that stops
// once caught up stops anyway.
constexpr std::chrono::milliseconds kUndeliveredGiveUp{10000};

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

Result<std::vector<CollectionSchema>> RabbitSource::describe() {
  if (options_.queues.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: no queues to read (set queues: [name, ...])", options_.name);
  }
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, Deadline::after(std::chrono::seconds(30)));
  if (!connection) {
    return fail(connection.error());
  }
  std::vector<CollectionSchema> schemas;
  for (const std::string& queue : options_.queues) {
    if (Result<std::uint32_t> declared = (*connection)->declare_queue(queue, !options_.declare);
        !declared) {
      return fail(declared.error());
    }
    schemas.push_back(message_schema(queue));
  }
  return schemas;
}

Status RabbitSource::open(const std::optional<Position>&) {
  // Deliveries of an earlier session were not acked, or were acked: either
  // way nothing to resume (see source.h).
  return connect(Deadline::after(std::chrono::seconds(30)));
}

Status RabbitSource::connect(Deadline deadline) {
  connection_.reset();
  consumers_.clear();
  Result<std::unique_ptr<Connection>> connection = Connection::open(options_, deadline);
  if (!connection) {
    return fail(connection.error());
  }
  Connection& c = **connection;
  amqp_basic_qos(c.state(), kChannel, 0, static_cast<std::uint16_t>(options_.prefetch), 0);
  if (Status s = c.check("set the prefetch (basic.qos)"); !s) {
    return s;
  }
  for (const std::string& queue : options_.queues) {
    if (options_.declare) {
      if (Result<std::uint32_t> declared = c.declare_queue(queue, false); !declared) {
        return fail(declared.error());
      }
    }
    amqp_basic_consume_ok_t* ok_reply =
        amqp_basic_consume(c.state(), kChannel, to_bytes(queue), amqp_empty_bytes, /*no_local=*/0,
                           /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
    if (Status s = c.check(fmt::format("consume queue {}", queue)); !s) {
      if (s.error().message().find("NOT_FOUND") != std::string::npos) {
        return make_error(ErrorCode::kInvalidConfig,
                          "{} (create it, or set declare: true on the endpoint)",
                          s.error().message());
      }
      return s;
    }
    consumers_[to_string(ok_reply->consumer_tag)] = queue;
  }
  connection_ = std::move(*connection);
  session_ = new_session();
  acked_ = 0;
  delivered_ = 0;
  backoff_ = std::chrono::milliseconds(0);
  down_since_.reset();
  return ok();
}

void RabbitSource::lost(const Error& error) {
  connection_.reset();
  if (!down_since_) {
    down_since_ = SteadyClock::now();
  }
  backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  retry_at_ = SteadyClock::now() + backoff_;
  spdlog::warn("{}; connecting again in {} ms (unacknowledged messages come again)",
               redact(error.message()), backoff_.count());
}

Result<std::optional<Batch>> RabbitSource::next(Deadline until, std::size_t max_changes) {
  if (!connection_) {
    if (SteadyClock::now() < retry_at_) {
      return std::optional<Batch>();
    }
    if (Status s = connect(Deadline::after(std::chrono::seconds(10))); !s) {
      if (!s.error().retryable() ||
          (down_since_ && SteadyClock::now() - *down_since_ >= kGiveUpAfter)) {
        return fail(s.error());
      }
      lost(s.error());
      return std::optional<Batch>();
    }
    spdlog::info("endpoint {}: connected again", options_.name);
  }
  amqp_connection_state_t state = connection_->state();
  Batch batch;
  std::uint64_t last_tag = 0;
  while (batch.changes.size() < std::max<std::size_t>(max_changes, 1)) {
    const std::chrono::milliseconds wait = batch.changes.empty()
                                               ? std::max(until.remaining(), kFirstWait)
                                               : std::min(until.remaining(), kLinger);
    timeval tv = to_timeval(wait);
    amqp_envelope_t envelope;
    amqp_maybe_release_buffers(state);
    amqp_rpc_reply_t reply = amqp_consume_message(state, &envelope, &tv, 0);
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT) {
      break;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // Another frame than a delivery: a close, a cancelled consumer.
      amqp_frame_t frame;
      if (int status = amqp_simple_wait_frame(state, &frame); status != AMQP_STATUS_OK) {
        lost(connection_->status_error(status, "consume"));
        break;
      }
      if (frame.frame_type == AMQP_FRAME_METHOD &&
          (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
           frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        lost(connection_->close_error(frame.payload.method, "consume"));
        break;
      }
      if (frame.frame_type == AMQP_FRAME_METHOD &&
          frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
        lost(Error(ErrorCode::kRetryable,
                   fmt::format("endpoint {}: the broker cancelled a consumer (queue deleted?)",
                               options_.name)));
        break;
      }
      continue;
    }
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      lost(connection_->reply_error(reply, "consume"));
      break;
    }
    Delivery delivery;
    auto consumer = consumers_.find(to_string(envelope.consumer_tag));
    delivery.queue = consumer != consumers_.end() ? consumer->second : std::string();
    delivery.exchange = to_string(envelope.exchange);
    delivery.routing_key = to_string(envelope.routing_key);
    delivery.body = to_string(envelope.message.body);
    delivery.properties = &envelope.message.properties;
    Message message = rabbitmq::to_message(delivery);
    last_tag = envelope.delivery_tag;
    delivered_ = last_tag;
    amqp_destroy_envelope(&envelope);
    batch.bytes += message.payload.size() + 64;
    batch.changes.push_back(to_change(std::move(message), session_position(session_, last_tag)));
  }
  if (batch.changes.empty()) {
    if (connection_ && delivered_ > acked_) {
      // Deliveries of this session are not released yet: with the prefetch
      // window full the broker sends nothing more until they are acked, so
      // this is not "caught up". An empty batch ending at the last delivery
      // (durable once the batches before it are) keeps the job going and
      // lets release() ack them.
      batch.end = session_position(session_, delivered_);
      return std::optional<Batch>(std::move(batch));
    }
    if (connection_ && messages_ready()) {
      // The queues hold messages the broker has not pushed yet (it may be
      // reading them from disk): not caught up either.
      batch.end = session_position(session_, delivered_);
      return std::optional<Batch>(std::move(batch));
    }
    return std::optional<Batch>();
  }
  undelivered_since_.reset();
  // A batch read before the connection was lost is still returned: its
  // release() is void, and the broker redelivers its messages.
  batch.end = batch.changes.back().position;
  return std::optional<Batch>(std::move(batch));
}

Status RabbitSource::release(const Position& durable_everywhere) {
  Result<SessionPosition> position = parse_session_position(durable_everywhere);
  if (!position) {
    return fail(position.error());
  }
  if (!connection_ || position->session != session_ || position->sequence <= acked_) {
    return ok();
  }
  if (int status =
          amqp_basic_ack(connection_->state(), kChannel, position->sequence, /*multiple=*/1);
      status != AMQP_STATUS_OK) {
    lost(connection_->status_error(status, "ack"));
    return ok();  // unacked: the broker redelivers them
  }
  acked_ = position->sequence;
  return ok();
}

bool RabbitSource::messages_ready() {
  std::uint64_t ready = 0;
  for (const std::string& queue : options_.queues) {
    // On the consuming channel: rabbitmq-c keeps deliveries that arrive
    // before the reply for amqp_consume_message.
    Result<std::uint32_t> count = connection_->declare_queue(queue, /*passive=*/true);
    if (!count) {
      lost(count.error());
      return false;
    }
    ready += *count;
  }
  if (ready == 0) {
    undelivered_since_.reset();
    return false;
  }
  const SteadyTime now = SteadyClock::now();
  if (!undelivered_since_) {
    undelivered_since_ = now;
  }
  if (now - *undelivered_since_ < kUndeliveredGiveUp) {
    return true;
  }
  spdlog::warn(
      "endpoint {}: its queues report {} ready messages but the broker delivers none (is another "
      "consumer the single active one?); taken as caught up",
      options_.name, ready);
  undelivered_since_.reset();
  return false;
}

int RabbitSource::compare(const Position& a, const Position& b) const {
  return a < b ? -1 : (a == b ? 0 : 1);  // fixed-width encoding: byte order is their order
}

}  // namespace megasync::connectors::rabbitmq
