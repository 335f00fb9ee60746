#include "connectors/nats/sink.h"

#include <fmt/format.h>

namespace megasync::connectors::nats {
namespace {

constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr const char* kContentTypeHeader = "Content-Type";

}  // namespace

Result<std::unique_ptr<NatsSink>> NatsSink::open(const NatsOptions& options,
                                                 MessageTemplate subject) {
  std::unique_ptr<NatsSink> sink(new NatsSink(options, std::move(subject)));
  Result<std::unique_ptr<Connection>> connection = Connection::open(
      options, Deadline::after(std::chrono::seconds(30)), &NatsSink::on_pub_error, sink.get());
  if (!connection) {
    return fail(connection.error());
  }
  sink->connection_ = std::move(*connection);
  return sink;
}

void NatsSink::on_pub_error(jsCtx*, jsPubAckErr* error, void* closure) {
  auto* sink = static_cast<NatsSink*>(closure);
  std::lock_guard lock(sink->mutex_);
  auto found = sink->in_flight_.find(error->Msg);
  if (found == sink->in_flight_.end()) {
    return;  // of an earlier, failed batch
  }
  sink->failures_[found->second] = Failure{.status = error->Err,
                                           .code = static_cast<int>(error->ErrCode),
                                           .text = error->ErrText != nullptr ? error->ErrText : ""};
}

Status NatsSink::prepare(const std::vector<CollectionSchema>&) {
  // Also with jetstream: false: a stream then captures the core publishes.
  if (!options_.stream.empty() && !options_.create_stream_subjects.empty()) {
    return connection_->ensure_stream(options_.stream, options_.create_stream_subjects);
  }
  return ok();
}

Status NatsSink::apply(const Batch& batch) {
  std::vector<Rejected> rejected;
  if (Status s = apply_or_reject(batch, rejected); !s) {
    return s;
  }
  if (!rejected.empty()) {
    return fail(rejected.front().error);
  }
  return ok();
}

natsMsg* NatsSink::build(const Change& change, std::string& subject, std::string& why) {
  const Message message = to_message(change);
  subject = subject_.render(message);
  if (std::string bad = invalid_subject(subject); !bad.empty()) {
    why = fmt::format("subject {:?} (from template {:?}) cannot be published to: {}", subject,
                      subject_.text(), bad);
    return nullptr;
  }
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, message.payload.data(),
                                static_cast<int>(message.payload.size()));
  for (const auto& [name, value] : message.headers) {
    if (s == NATS_OK) {
      s = natsMsgHeader_Add(msg, name.c_str(), value.c_str());
    }
  }
  if (s == NATS_OK && message.content_type && message.header(kContentTypeHeader) == nullptr) {
    s = natsMsgHeader_Set(msg, kContentTypeHeader, message.content_type->c_str());
  }
  if (s == NATS_OK && options_.jetstream) {
    s = natsMsgHeader_Set(msg, kMsgIdHeader, message.id.c_str());
  }
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    why = describe_status(s, fmt::format("message {:?} for subject {:?}", message.id, subject));
    return nullptr;
  }
  return msg;
}

Status NatsSink::apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) {
  {
    std::lock_guard lock(mutex_);
    in_flight_.clear();
    failures_.clear();
  }
  const std::string context = fmt::format("endpoint {}", options_.name);
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    const Change& change = batch.changes[i];
    if (change.op != Op::kUpsert) {
      // A delete has no message to send.
      continue;
    }
    std::string subject;
    std::string why;
    natsMsg* msg = build(change, subject, why);
    if (msg == nullptr) {
      rejected.push_back(Rejected{
          .index = i, .error = Error(ErrorCode::kPermanent, fmt::format("{}: {}", context, why))});
      continue;
    }
    natsStatus s = NATS_OK;
    if (options_.jetstream) {
      {
        std::lock_guard lock(mutex_);
        in_flight_[msg] = i;
      }
      s = js_PublishMsgAsync(connection_->js(), &msg, nullptr);
    } else {
      s = natsConnection_PublishMsg(connection_->nc(), msg);
    }
    if (msg != nullptr) {
      natsMsg_Destroy(msg);  // ours still (core NATS, or an async publish that failed)
    }
    if (s == NATS_MAX_PAYLOAD) {
      rejected.push_back(Rejected{
          .index = i,
          .error = Error(
              ErrorCode::kPermanent,
              fmt::format("{}: message to {:?} is larger than the server's "
                          "max_payload ({} bytes)",
                          context, subject, natsConnection_GetMaxPayload(connection_->nc())))});
      continue;
    }
    if (s != NATS_OK) {
      return make_error(ErrorCode::kRetryable, "{}: {}", context,
                        describe_status(s, fmt::format("publish to {:?}", subject)));
    }
  }
  const auto timeout_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.publish_timeout).count();
  if (!options_.jetstream) {
    if (natsStatus s = natsConnection_FlushTimeout(connection_->nc(), timeout_ms); s != NATS_OK) {
      return make_error(ErrorCode::kRetryable, "{}: {}", context,
                        describe_status(s, "flush after publishing"));
    }
    return ok();
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = timeout_ms;
  if (natsStatus s = js_PublishAsyncComplete(connection_->js(), &wait); s != NATS_OK) {
    return make_error(ErrorCode::kRetryable, "{}: {}", context,
                      describe_status(s, fmt::format("waiting for {} PubAcks (publish_timeout {})",
                                                     batch.changes.size(), timeout_ms)));
  }
  std::map<std::size_t, Failure> failures;
  {
    std::lock_guard lock(mutex_);
    failures.swap(failures_);
    in_flight_.clear();
  }
  bool jetstream_checked = false;
  for (const auto& [index, failure] : failures) {
    const Change& change = batch.changes[index];
    const std::string subject = subject_.render(to_message(change));
    if (failure.code != 0) {
      // A JetStream API error: the stream refused this message (too large, a
      // limit with discard new, a wrong expected sequence).
      rejected.push_back(Rejected{
          .index = index,
          .error = Error(ErrorCode::kPermanent,
                         fmt::format("{}: JetStream refused the message to {:?}: {} (error {})",
                                     context, subject, failure.text, failure.code))});
      continue;
    }
    if (failure.status == NATS_NO_RESPONDERS) {
      // No stream takes the subject, unless JetStream itself is not up yet
      // (a server just restarted): then the batch is tried again.
      if (!jetstream_checked) {
        jsAccountInfo* info = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = js_GetAccountInfo(&info, connection_->js(), nullptr, &jerr);
        if (s != NATS_OK) {
          return make_error(ErrorCode::kRetryable, "{}: {}", context,
                            describe_status(s, "JetStream is not available"));
        }
        jsAccountInfo_Destroy(info);
        jetstream_checked = true;
      }
      rejected.push_back(Rejected{
          .index = index,
          .error = Error(ErrorCode::kPermanent,
                         fmt::format("{}: no JetStream stream takes subject {:?}; create one, "
                                     "or set stream and create_stream on the endpoint",
                                     context, subject))});
      continue;
    }
    return make_error(ErrorCode::kRetryable, "{}: {}", context,
                      describe_status(failure.status, fmt::format("publish to {:?}", subject)));
  }
  return ok();
}

}  // namespace megasync::connectors::nats
