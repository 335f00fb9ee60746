#include "connectors/nats/source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace megasync::connectors::nats {
namespace {

constexpr std::string_view kMsgIdHeader = "Nats-Msg-Id";
constexpr std::string_view kContentTypeHeader = "Content-Type";

std::int64_t to_ns(Duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

}  // namespace

Message message_of(natsMsg* msg, const std::string& stream, std::uint64_t sequence,
                   std::int64_t timestamp_ns) {
  Message message;
  message.topic = natsMsg_GetSubject(msg);
  const char* data = natsMsg_GetData(msg);
  message.payload.assign(data != nullptr ? data : "",
                         static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &key_count) == NATS_OK) {
    for (int i = 0; i < key_count; ++i) {
      const char** values = nullptr;
      int value_count = 0;
      if (natsMsgHeader_Values(msg, keys[i], &values, &value_count) == NATS_OK) {
        for (int j = 0; j < value_count; ++j) {
          message.headers.emplace_back(keys[i], values[j]);
        }
        free(static_cast<void*>(values));
      }
    }
    free(static_cast<void*>(keys));
  }
  // cnats returns the keys in no fixed order: sort them (stable) so that a
  // message always converts the same way.
  std::stable_sort(message.headers.begin(), message.headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  if (const std::string* id = message.header(kMsgIdHeader); id != nullptr && !id->empty()) {
    message.id = *id;
  } else {
    message.id = fmt::format("{}:{}", stream, sequence);
  }
  if (const std::string* type = message.header(kContentTypeHeader)) {
    message.content_type = *type;
  }
  if (timestamp_ns > 0) {
    message.timestamp_ms = timestamp_ns / 1000000;
  }
  return message;
}

NatsSource::~NatsSource() {
  // Not durable at every target: redeliver at once to whoever reads next.
  for (Held& held : held_) {
    (void)natsMsg_Nak(held.msg, nullptr);
    natsMsg_Destroy(held.msg);
  }
  held_.clear();
  if (subscription_ != nullptr) {
    // Destroy, not Unsubscribe: the durable consumer stays on the server.
    natsSubscription_Destroy(subscription_);
  }
}

Result<std::vector<CollectionSchema>> NatsSource::describe() {
  std::vector<CollectionSchema> schemas;
  std::vector<std::string> names = options_.subjects;
  if (names.empty()) {
    names = options_.create_stream_subjects;
  }
  if (names.empty()) {
    names.push_back(options_.stream);
  }
  for (std::string& name : names) {
    schemas.push_back(message_schema(std::move(name)));
  }
  return schemas;
}

Status NatsSource::ensure_consumer() {
  jsConsumerConfig config;
  jsConsumerConfig_Init(&config);
  config.Durable = durable_.c_str();
  config.AckPolicy = js_AckExplicit;
  config.AckWait = to_ns(options_.ack_wait);
  config.MaxAckPending = options_.max_ack_pending;
  config.MaxDeliver = -1;
  config.DeliverPolicy = js_DeliverAll;
  // NATS 2.9 takes one filter per consumer; several are matched here.
  if (options_.subjects.size() == 1) {
    config.FilterSubject = options_.subjects.front().c_str();
  }
  jsCtx* js = connection_->js();
  jsConsumerInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetConsumerInfo(&info, js, options_.stream.c_str(), durable_.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    const std::string filter =
        info->Config->FilterSubject != nullptr ? info->Config->FilterSubject : "";
    const std::string wanted = config.FilterSubject != nullptr ? config.FilterSubject : "";
    const bool same = info->Config->AckWait == config.AckWait &&
                      info->Config->MaxAckPending == config.MaxAckPending;
    jsConsumerInfo_Destroy(info);
    info = nullptr;
    if (filter != wanted) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: durable consumer {} of stream {} filters {:?}, the "
                        "endpoint asks for {:?}; delete the consumer (its acks go with it) or "
                        "set another `durable` name",
                        options_.name, durable_, options_.stream, filter, wanted);
    }
    if (same) {
      return ok();
    }
    s = js_UpdateConsumer(&info, js, options_.stream.c_str(), &config, nullptr, &jerr);
  } else if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
    s = js_AddConsumer(&info, js, options_.stream.c_str(), &config, nullptr, &jerr);
  }
  if (s != NATS_OK) {
    return make_error(
        jerr != 0 ? ErrorCode::kPermanent : classify(s), "endpoint {}: {}", options_.name,
        describe_status(
            s, fmt::format("durable consumer {} of stream {}", durable_, options_.stream)));
  }
  jsConsumerInfo_Destroy(info);
  return ok();
}

Status NatsSource::open(const std::optional<Position>&) {
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, Deadline::after(std::chrono::seconds(30)));
  if (!connection) {
    return fail(connection.error());
  }
  connection_ = std::move(*connection);
  if (Status s = connection_->ensure_stream(options_.stream, options_.create_stream_subjects); !s) {
    return s;
  }
  if (Status s = ensure_consumer(); !s) {
    return s;
  }
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = options_.stream.c_str();
  sub_options.Consumer = durable_.c_str();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const char* filter = options_.subjects.size() == 1 ? options_.subjects.front().c_str() : nullptr;
  if (natsStatus s = js_PullSubscribe(&subscription_, connection_->js(), filter, durable_.c_str(),
                                      nullptr, &sub_options, &jerr);
      s != NATS_OK) {
    return make_error(classify(s), "endpoint {}: {}", options_.name,
                      describe_status(s, fmt::format("pull subscription to consumer {} of {}",
                                                     durable_, options_.stream)));
  }
  session_ = new_session();
  sequence_ = 0;
  return ok();
}

void NatsSource::keep_alive() {
  const auto now = std::chrono::steady_clock::now();
  const auto half = options_.ack_wait / 2;
  for (Held& held : held_) {
    if (now - held.touched >= half) {
      (void)natsMsg_InProgress(held.msg, nullptr);
      held.touched = now;
    }
  }
}

Result<std::optional<Batch>> NatsSource::next(Deadline until, std::size_t max_changes) {
  keep_alive();
  if (!connection_->connected()) {
    // cnats reconnects on its own; held messages stay ackable. Wait a little
    // (not past `until`) rather than spin.
    if (!warned_disconnected_) {
      spdlog::warn("endpoint {}: disconnected from {}; reconnecting", options_.name,
                   display_servers(options_.servers));
      warned_disconnected_ = true;
    }
    std::this_thread::sleep_for(std::min(until.remaining(), std::chrono::milliseconds(100)));
    if (natsConnection_Status(connection_->nc()) == NATS_CONN_STATUS_CLOSED) {
      return make_error(ErrorCode::kRetryable, "endpoint {}: the connection to {} was closed",
                        options_.name, display_servers(options_.servers));
    }
    return std::optional<Batch>();
  }
  warned_disconnected_ = false;
  const int batch_size = static_cast<int>(std::clamp<std::size_t>(max_changes, 1, 10000));
  const std::int64_t wait_ms = std::max<std::int64_t>(until.remaining().count(), 50);
  natsMsgList list = {nullptr, 0};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, subscription_, batch_size, wait_ms, &jerr);
  if (s == NATS_TIMEOUT || (s != NATS_OK && !connection_->connected())) {
    natsMsgList_Destroy(&list);
    return std::optional<Batch>();
  }
  if (s != NATS_OK) {
    natsMsgList_Destroy(&list);
    return make_error(classify(s), "endpoint {}: {}", options_.name,
                      describe_status(s, fmt::format("fetch from consumer {} of stream {}",
                                                     durable_, options_.stream)));
  }
  Batch batch;
  const auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* msg = list.Msgs[i];
    list.Msgs[i] = nullptr;  // ours now: held until released
    jsMsgMetaData* meta = nullptr;
    std::uint64_t stream_sequence = 0;
    std::int64_t timestamp = 0;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      stream_sequence = meta->Sequence.Stream;
      timestamp = meta->Timestamp;
      jsMsgMetaData_Destroy(meta);
    }
    if (options_.subjects.size() > 1 &&
        std::none_of(options_.subjects.begin(), options_.subjects.end(), [&](const std::string& p) {
          return subject_matches(p, natsMsg_GetSubject(msg));
        })) {
      // Not for this job (filtered here: NATS 2.9 consumers take one filter).
      (void)natsMsg_Ack(msg, nullptr);
      natsMsg_Destroy(msg);
      continue;
    }
    Message message = message_of(msg, options_.stream, stream_sequence, timestamp);
    batch.bytes += message.payload.size() + message.topic.size() + message.id.size() + 32;
    ++sequence_;
    Position position = session_position(session_, sequence_);
    batch.changes.push_back(to_change(std::move(message), position));
    batch.end = std::move(position);
    held_.push_back(Held{.sequence = sequence_, .msg = msg, .touched = now});
  }
  natsMsgList_Destroy(&list);
  if (batch.changes.empty()) {
    return std::optional<Batch>();
  }
  return std::optional<Batch>(std::move(batch));
}

Status NatsSource::release(const Position& durable_everywhere) {
  Result<SessionPosition> position = parse_session_position(durable_everywhere);
  if (!position) {
    return make_error(ErrorCode::kPermanent, "endpoint {}: {:?} is not a nats source position",
                      options_.name, durable_everywhere);
  }
  // A checkpoint of an earlier session: its messages were acked then, or are
  // redelivered in this one.
  if (position->session != session_) {
    return ok();
  }
  bool acked = false;
  while (!held_.empty() && held_.front().sequence <= position->sequence) {
    (void)natsMsg_Ack(held_.front().msg, nullptr);
    natsMsg_Destroy(held_.front().msg);
    held_.pop_front();
    acked = true;
  }
  if (acked) {
    // Acks are fire-and-forget publishes: flush them to the server. One lost
    // (a disconnect) only means a redelivery, which the targets drop as a
    // duplicate by its id.
    if (natsStatus s = natsConnection_FlushTimeout(connection_->nc(), 5000); s != NATS_OK) {
      spdlog::warn("endpoint {}: {}", options_.name,
                   describe_status(s, "acks not confirmed (they will be redelivered)"));
    }
  }
  return ok();
}

int NatsSource::compare(const Position& a, const Position& b) const {
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

Result<std::optional<std::int64_t>> NatsSource::backlog(const std::optional<Position>&) {
  if (connection_ == nullptr) {
    return std::optional<std::int64_t>();
  }
  jsConsumerInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_GetConsumerInfo(&info, connection_->js(), options_.stream.c_str(), durable_.c_str(),
                         nullptr, &jerr) != NATS_OK) {
    return std::optional<std::int64_t>();
  }
  const auto pending = static_cast<std::int64_t>(info->NumPending);
  jsConsumerInfo_Destroy(info);
  return std::optional<std::int64_t>(pending + static_cast<std::int64_t>(held_.size()));
}

}  // namespace megasync::connectors::nats
