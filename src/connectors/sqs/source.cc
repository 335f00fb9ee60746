#include "connectors/sqs/source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "connectors/sqs/convert.h"
#include "core/redact.h"

namespace megasync::connectors::sqs {

SqsSource::SqsSource(SqsOptions options)
    : options_(std::move(options)), api_(std::make_unique<SqsApi>(options_)) {}

Status SqsSource::resolve() {
  if (options_.queues.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: no queues to read (set queues: [name or URL, ...])",
                      options_.name);
  }
  queues_.clear();
  for (const std::string& queue : options_.queues) {
    Result<std::string> url = api_->queue_url(queue, options_.create);
    if (!url) {
      return fail(url.error());
    }
    queues_.push_back(Queue{queue_name(queue), *url});
  }
  return ok();
}

Result<std::vector<CollectionSchema>> SqsSource::describe() {
  if (Status s = resolve(); !s) {
    return fail(s.error());
  }
  std::vector<CollectionSchema> schemas;
  for (const Queue& queue : queues_) {
    schemas.push_back(message_schema(queue.name));
  }
  return schemas;
}

Status SqsSource::open(const std::optional<Position>&) {
  // Receipt handles of an earlier session are gone: SQS delivers those
  // messages again when their visibility timeout ends (see source.h).
  if (Status s = resolve(); !s) {
    return s;
  }
  session_ = new_session();
  delivered_ = 0;
  held_.clear();
  return ok();
}

Result<std::size_t> SqsSource::receive(std::size_t q, std::size_t max, int wait_seconds,
                                       Batch& batch) {
  const Queue& queue = queues_[q];
  const nlohmann::json body = {
      {"QueueUrl", queue.url},
      {"MaxNumberOfMessages", std::clamp<std::size_t>(max, 1, kMaxBatchEntries)},
      {"WaitTimeSeconds", wait_seconds},
      {"VisibilityTimeout", options_.visibility_timeout.count()},
      {"MessageAttributeNames", {"All"}},
      {"MessageSystemAttributeNames", {"All"}},
      {"AttributeNames", {"All"}},  // the older spelling, for older servers
  };
  Result<nlohmann::json> answer = api_->call(
      "ReceiveMessage", body, std::chrono::seconds(wait_seconds) + options_.request_timeout);
  if (!answer) {
    return fail(answer.error().with_context(fmt::format("queue {}", queue.name)));
  }
  const nlohmann::json messages = answer->value("Messages", nlohmann::json::array());
  std::size_t count = 0;
  for (const nlohmann::json& received : messages) {
    if (!received.is_object() || !received.contains("ReceiptHandle")) {
      continue;
    }
    Message message = from_sqs(received, queue.name, options_);
    ++delivered_;
    held_.push_back(Held{delivered_, q, received["ReceiptHandle"].get<std::string>()});
    batch.bytes += message.payload.size() + 64;
    batch.changes.push_back(to_change(std::move(message), session_position(session_, delivered_)));
    ++count;
  }
  return count;
}

Result<std::optional<Batch>> SqsSource::next(Deadline until, std::size_t max_changes) {
  const std::size_t want = std::max<std::size_t>(max_changes, 1);
  Batch batch;
  bool long_polled = false;
  bool failed = false;
  while (batch.changes.size() < want && !failed) {
    // A round of receives without waiting, on every queue.
    std::size_t got = 0;
    for (std::size_t q = 0; q < queues_.size() && batch.changes.size() < want; ++q) {
      Result<std::size_t> n = receive(q, want - batch.changes.size(), 0, batch);
      if (!n) {
        if (batch.changes.empty()) {
          return fail(n.error());
        }
        // Return what came; the error comes again on the next call.
        spdlog::warn("{}", redact(n.error().message()));
        failed = true;
        break;
      }
      got += *n;
    }
    if (got > 0 || failed) {
      continue;
    }
    if (!batch.changes.empty() || long_polled) {
      break;
    }
    // Every queue is empty: wait on one (in turn) for what comes next, never
    // past the run's deadline; with several queues, briefly.
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(until.remaining());
    const int wait = static_cast<int>(
        std::min<std::int64_t>(left.count(), queues_.size() > 1 ? 1 : kMaxWaitSeconds));
    if (wait <= 0 || queues_.empty()) {
      break;
    }
    const std::size_t q = next_queue_++ % queues_.size();
    Result<std::size_t> n = receive(q, want, wait, batch);
    if (!n) {
      return fail(n.error());
    }
    long_polled = true;
  }
  if (batch.changes.empty()) {
    if (!held_.empty()) {
      // Deliveries of this session wait for release(): not caught up yet (see
      // source.h). An empty batch ending at the last one lets them be deleted.
      batch.end = session_position(session_, delivered_);
      return std::optional<Batch>(std::move(batch));
    }
    return std::optional<Batch>();
  }
  batch.end = batch.changes.back().position;
  return std::optional<Batch>(std::move(batch));
}

void SqsSource::remove(std::size_t q, const std::vector<Held>& held) {
  const Queue& queue = queues_[q];
  nlohmann::json entries = nlohmann::json::array();
  for (std::size_t i = 0; i < held.size(); ++i) {
    entries.push_back({{"Id", std::to_string(i)}, {"ReceiptHandle", held[i].receipt_handle}});
  }
  Result<nlohmann::json> answer =
      api_->call("DeleteMessageBatch", {{"QueueUrl", queue.url}, {"Entries", entries}});
  if (!answer) {
    spdlog::warn("{}; queue {}: {} messages not deleted: they will be delivered again",
                 redact(answer.error().message()), queue.name, held.size());
    return;
  }
  // An expired receipt handle: the message became visible again and will be
  // (or was) delivered again; at-least-once.
  for (const nlohmann::json& failed : answer->value("Failed", nlohmann::json::array())) {
    spdlog::warn(
        "endpoint {}: queue {}: a message was not deleted ({}: {}); it will be delivered "
        "again (was processing slower than visibility_timeout {} s?)",
        options_.name, queue.name, failed.value("Code", std::string()),
        failed.value("Message", std::string()), options_.visibility_timeout.count());
  }
}

Status SqsSource::release(const Position& durable_everywhere) {
  Result<SessionPosition> position = parse_session_position(durable_everywhere);
  if (!position) {
    return fail(position.error());
  }
  if (position->session != session_) {
    return ok();
  }
  std::map<std::size_t, std::vector<Held>> by_queue;
  while (!held_.empty() && held_.front().sequence <= position->sequence) {
    std::vector<Held>& group = by_queue[held_.front().queue];
    group.push_back(std::move(held_.front()));
    held_.pop_front();
  }
  for (auto& [q, held] : by_queue) {
    for (std::size_t start = 0; start < held.size(); start += kMaxBatchEntries) {
      const std::size_t end = std::min(held.size(), start + kMaxBatchEntries);
      remove(q, std::vector<Held>(held.begin() + static_cast<std::ptrdiff_t>(start),
                                  held.begin() + static_cast<std::ptrdiff_t>(end)));
    }
  }
  return ok();
}

int SqsSource::compare(const Position& a, const Position& b) const {
  return a < b ? -1 : (a == b ? 0 : 1);  // fixed-width encoding: byte order is their order
}

}  // namespace megasync::connectors::sqs
