#include "connectors/rabbitmq/sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>

#include <map>

#include "connectors/rabbitmq/convert.h"
#include "core/redact.h"

namespace megasync::connectors::rabbitmq {
namespace {

// The state of one published message, by publish sequence number.
struct Pending {
  std::size_t index = 0;  // in batch.changes
  bool returned = false;
  std::string return_text;
};

}  // namespace

Status RabbitSink::ensure_connected() {
  if (connection_ && !connection_->broken() &&
      SteadyClock::now() - last_used_ > std::chrono::seconds(1)) {
    // Idle for a while: take what the broker sent meanwhile (heartbeats, or
    // the close of a connection it gave up on), so that a connection that
    // died while idle is replaced now rather than failing the batch.
    timeval zero{};
    amqp_frame_t frame;
    while (true) {
      const int status = amqp_simple_wait_frame_noblock(connection_->state(), &frame, &zero);
      if (status == AMQP_STATUS_TIMEOUT) {
        break;
      }
      std::optional<Error> closed;
      if (status != AMQP_STATUS_OK) {
        closed = connection_->status_error(status, "idle connection");
      } else if (frame.frame_type == AMQP_FRAME_METHOD &&
                 (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                  frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        closed = connection_->close_error(frame.payload.method, "idle connection");
      }
      if (closed) {  // the connection is marked broken: replaced below
        spdlog::info("{}; connecting again", redact(closed->message()));
        break;
      }
    }
  }
  if (connection_ && !connection_->broken()) {
    return ok();
  }
  connection_.reset();
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, Deadline::after(std::chrono::seconds(30)));
  if (!connection) {
    return fail(connection.error());
  }
  amqp_confirm_select((*connection)->state(), kChannel);
  if (Status s = (*connection)->check("turn on publisher confirms (confirm.select)"); !s) {
    return s;
  }
  for (const std::string& queue : options_.declare_queues) {
    if (Result<std::uint32_t> declared = (*connection)->declare_queue(queue, false); !declared) {
      return fail(declared.error());
    }
  }
  connection_ = std::move(*connection);
  published_ = 0;
  return ok();
}

Status RabbitSink::prepare(const std::vector<CollectionSchema>&) {
  return ensure_connected();
}

Status RabbitSink::apply(const Batch& batch) {
  std::vector<Rejected> rejected;
  if (Status s = apply_or_reject(batch, rejected); !s) {
    return s;
  }
  for (const Rejected& r : rejected) {
    spdlog::error("{}; dropped (this job has no dead-letter handling for it)",
                  redact(r.error.message()));
  }
  return ok();
}

Status RabbitSink::apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) {
  if (batch.changes.empty()) {
    return ok();
  }
  if (Status s = ensure_connected(); !s) {
    return s;
  }
  return publish(batch, rejected);
}

Status RabbitSink::publish(const Batch& batch, std::vector<Rejected>& rejected) {
  amqp_connection_state_t state = connection_->state();
  const amqp_bytes_t exchange = to_bytes(options_.exchange);
  std::map<std::uint64_t, Pending> pending;  // by publish sequence number
  // Returned messages carry no sequence number: matched by message id.
  std::multimap<std::string, std::uint64_t> by_id;
  std::vector<Message> messages;
  messages.reserve(batch.changes.size());
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    const Change& change = batch.changes[i];
    if (change.op != Op::kUpsert) {
      rejected.push_back(Rejected{
          i, Error(ErrorCode::kPermanent,
                   fmt::format("endpoint {}: a {} of {} is not a message (a rabbitmq target "
                               "publishes messages only)",
                               options_.name, to_string(change.op), change.collection))});
      continue;
    }
    messages.push_back(to_message(change));
    const Message& message = messages.back();
    const std::string routing_key = routing_key_.render(message);
    PublishProperties properties;
    fill_properties(message, options_.persistent, properties);
    const int status = amqp_basic_publish(state, kChannel, exchange, to_bytes(routing_key),
                                          options_.mandatory ? 1 : 0, /*immediate=*/0,
                                          &properties.properties, to_bytes(message.payload));
    if (status != AMQP_STATUS_OK) {
      return fail(connection_->status_error(status, "publish"));
    }
    ++published_;
    pending.emplace(published_, Pending{.index = i});
    by_id.emplace(message.id, published_);
  }

  // Confirms come in order; a return comes before the confirm of its message.
  const Deadline deadline = Deadline::after(options_.confirm_timeout);
  std::size_t unconfirmed = pending.size();
  auto confirm = [&](std::uint64_t tag, bool multiple, bool nacked) {
    auto settle = [&](Pending& p) {
      if (p.returned || nacked) {
        rejected.push_back(Rejected{
            p.index,
            Error(ErrorCode::kPermanent,
                  p.returned ? fmt::format("endpoint {}: the broker returned message {} of {}: {} "
                                           "(exchange {:?}, no queue bound for its routing key)",
                                           options_.name, to_text(batch.changes[p.index].key[0]),
                                           batch.changes[p.index].collection, p.return_text,
                                           options_.exchange)
                             : fmt::format("endpoint {}: the broker refused message {} of {} "
                                           "(basic.nack)",
                                           options_.name, to_text(batch.changes[p.index].key[0]),
                                           batch.changes[p.index].collection))});
      }
      --unconfirmed;
    };
    if (multiple) {
      for (auto it = pending.begin(); it != pending.end() && it->first <= tag;) {
        settle(it->second);
        it = pending.erase(it);
      }
    } else if (auto it = pending.find(tag); it != pending.end()) {
      settle(it->second);
      pending.erase(it);
    }
  };
  while (unconfirmed > 0) {
    if (deadline.expired()) {
      connection_.reset();
      return make_error(ErrorCode::kRetryable,
                        "endpoint {}: {} of {} messages not confirmed by the broker within {} s",
                        options_.name, unconfirmed, batch.changes.size(),
                        options_.confirm_timeout.count() / 1000);
    }
    const std::chrono::milliseconds left = deadline.remaining();
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(left.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((left.count() % 1000) * 1000);
    amqp_frame_t frame;
    const int status = amqp_simple_wait_frame_noblock(state, &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) {
      continue;
    }
    if (status != AMQP_STATUS_OK) {
      return fail(connection_->status_error(status, "wait for publisher confirms"));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) {
      continue;
    }
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        confirm(ack->delivery_tag, ack->multiple != 0, false);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(frame.payload.method.decoded);
        confirm(nack->delivery_tag, nack->multiple != 0, true);
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        const auto* ret = static_cast<const amqp_basic_return_t*>(frame.payload.method.decoded);
        std::string text = fmt::format("{} {}", ret->reply_code, to_string(ret->reply_text));
        amqp_message_t returned;
        amqp_rpc_reply_t reply = amqp_read_message(state, frame.channel, &returned, 0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
          return fail(connection_->reply_error(reply, "read a returned message"));
        }
        std::string id;
        if ((returned.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) {
          id = to_string(returned.properties.message_id);
        }
        amqp_destroy_message(&returned);
        // The first unconfirmed, not yet returned publish of that id.
        auto [first, last] = by_id.equal_range(id);
        for (auto it = first; it != last; ++it) {
          auto p = pending.find(it->second);
          if (p != pending.end() && !p->second.returned) {
            p->second.returned = true;
            p->second.return_text = std::move(text);
            break;
          }
        }
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        Error error = connection_->close_error(frame.payload.method, "publish");
        connection_.reset();
        // Whatever the cause, the messages not confirmed were not taken:
        // the batch is published again (a missing exchange stays permanent).
        return fail(error);
      }
      default:
        break;
    }
  }
  amqp_maybe_release_buffers(state);
  last_used_ = SteadyClock::now();
  return ok();
}

}  // namespace megasync::connectors::rabbitmq
