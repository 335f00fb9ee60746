#include "connectors/sqs/sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>

#include "connectors/sqs/convert.h"
#include "core/redact.h"

namespace megasync::connectors::sqs {
namespace {

// A message on its way: its index in the batch and its entry.
struct Pending {
  std::size_t index = 0;
  Entry entry;
};

}  // namespace

SqsSink::SqsSink(SqsOptions options, MessageTemplate queue)
    : options_(std::move(options)),
      queue_(std::move(queue)),
      api_(std::make_unique<SqsApi>(options_)) {}

Result<std::string> SqsSink::url_of(const std::string& queue) {
  if (auto it = urls_.find(queue); it != urls_.end()) {
    return it->second;
  }
  if (queue.empty()) {
    return make_error(ErrorCode::kPermanent,
                      "endpoint {}: the queue template '{}' gave an empty queue name",
                      options_.name, queue_.text());
  }
  Result<std::string> url = api_->queue_url(queue, options_.create);
  if (!url) {
    return fail(url.error());
  }
  urls_.emplace(queue, *url);
  return url;
}

Status SqsSink::prepare(const std::vector<CollectionSchema>&) {
  if (queue_.fixed()) {
    Result<std::string> url = url_of(queue_.render(Message{}));
    if (!url) {
      return fail(url.error());
    }
  }
  return ok();
}

Status SqsSink::apply(const Batch& batch) {
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

Status SqsSink::apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) {
  // Entries by queue, in batch order.
  std::map<std::string, std::vector<Pending>> by_queue;
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    const Change& change = batch.changes[i];
    if (change.op != Op::kUpsert) {
      rejected.push_back(
          Rejected{i, Error(ErrorCode::kPermanent,
                            fmt::format("endpoint {}: a {} of {} is not a message (an sqs target "
                                        "sends messages only)",
                                        options_.name, to_string(change.op), change.collection))});
      continue;
    }
    const Message message = to_message(change);
    const std::string queue = queue_.render(message);
    Result<Entry> entry = to_entry(message, queue, options_);
    if (!entry) {
      rejected.push_back(Rejected{i, entry.error()});
      continue;
    }
    by_queue[queue].push_back(Pending{i, std::move(*entry)});
  }

  std::optional<Error> retry;  // an entry SQS failed on its side
  for (auto& [queue, pending] : by_queue) {
    Result<std::string> url = url_of(queue);
    if (!url) {
      return fail(url.error());
    }
    for (std::size_t start = 0; start < pending.size();) {
      // Up to 10 entries and max_message_bytes per call.
      nlohmann::json entries = nlohmann::json::array();
      std::size_t bytes = 0;
      std::size_t end = start;
      while (end < pending.size() && entries.size() < kMaxBatchEntries &&
             (entries.empty() || bytes + pending[end].entry.bytes <= options_.max_message_bytes)) {
        nlohmann::json e = pending[end].entry.json;
        e["Id"] = std::to_string(end);
        entries.push_back(std::move(e));
        bytes += pending[end].entry.bytes;
        ++end;
      }
      Result<nlohmann::json> answer =
          api_->call("SendMessageBatch", {{"QueueUrl", *url}, {"Entries", std::move(entries)}});
      if (!answer) {
        if (answer.error().code() == ErrorCode::kNotFound) {
          urls_.erase(queue);  // deleted meanwhile: looked up again next time
        }
        return fail(answer.error().with_context(fmt::format("queue {}", queue)));
      }
      for (const nlohmann::json& failed : answer->value("Failed", nlohmann::json::array())) {
        const std::string id = failed.value("Id", std::string());
        std::size_t k = 0;
        if (std::from_chars(id.data(), id.data() + id.size(), k).ec != std::errc() || k < start ||
            k >= end) {
          return make_error(ErrorCode::kRetryable,
                            "endpoint {}: SendMessageBatch to {}: a failure for unknown entry '{}'",
                            options_.name, queue, id);
        }
        const std::size_t index = pending[k].index;
        const std::string detail = fmt::format("{}: {}", failed.value("Code", std::string()),
                                               failed.value("Message", std::string()));
        if (failed.value("SenderFault", false)) {
          rejected.push_back(Rejected{
              index, Error(ErrorCode::kPermanent,
                           fmt::format("endpoint {}: SQS refused message {} of {} for queue {}: {}",
                                       options_.name, to_text(batch.changes[index].key[0]),
                                       batch.changes[index].collection, queue, detail))});
        } else if (!retry) {
          retry = Error(ErrorCode::kRetryable,
                        fmt::format("endpoint {}: SQS failed message {} of {} for queue {} on its "
                                    "side ({}); the batch is sent again",
                                    options_.name, to_text(batch.changes[index].key[0]),
                                    batch.changes[index].collection, queue, detail));
        }
      }
      start = end;
    }
  }
  if (retry) {
    return fail(*retry);
  }
  return ok();
}

}  // namespace megasync::connectors::sqs
