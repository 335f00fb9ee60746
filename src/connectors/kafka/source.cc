#include "connectors/kafka/source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

namespace megasync::connectors::kafka {
namespace {

// How long the first poll of a next() waits at least: a consumer just
// subscribed needs the group's assignment before it fetches anything.
constexpr std::chrono::milliseconds kFirstWait{100};
// How long after open() next() waits for the group's assignment and the end
// of each assigned partition before it may say "caught up" (a run that stops
// once caught up would otherwise stop before the first fetch).
constexpr std::chrono::seconds kSettle{20};
// Once a batch has a message, how long to wait for the next before returning
// it (0 when `until` passed: what is fetched already still fills the batch).
constexpr std::chrono::milliseconds kLinger{10};
// The group's session timeout: a member killed without leaving holds its
// partitions this long (librdkafka's default, 45 s, stalls a restart).
constexpr const char* kSessionTimeoutMs = "10000";

struct PartitionsDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using Partitions = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionsDeleter>;

}  // namespace

KafkaSource::~KafkaSource() {
  if (consumer_) {
    // Leaves the group at once (the partitions go to another member without
    // waiting for the session timeout); nothing is committed here.
    (void)rd_kafka_consumer_close(consumer_.get());
  }
}

Result<std::vector<CollectionSchema>> KafkaSource::describe() {
  if (options_.topics.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: no topics to read (set topics: [name or ^regex, ...])",
                      options_.name);
  }
  std::vector<CollectionSchema> schemas;
  for (const std::string& topic : options_.topics) {
    schemas.push_back(message_schema(topic));
  }
  return schemas;
}

Status KafkaSource::open(const std::optional<Position>&) {
  Result<Conf> conf = make_conf(options_, {{"group.id", group_},
                                           {"enable.auto.commit", "false"},
                                           {"enable.auto.offset.store", "false"},
                                           {"auto.offset.reset", "earliest"},
                                           {"enable.partition.eof", "true"},
                                           {"session.timeout.ms", kSessionTimeoutMs}});
  if (!conf) {
    return fail(conf.error());
  }
  Result<Handle> consumer = make_handle(options_, RD_KAFKA_CONSUMER, std::move(*conf));
  if (!consumer) {
    return fail(consumer.error());
  }
  consumer_ = std::move(*consumer);
  rd_kafka_poll_set_consumer(consumer_.get());
  Partitions topics(rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())));
  for (const std::string& topic : options_.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get()); err != 0) {
    return make_error(ErrorCode::kInvalidConfig, "endpoint {}: subscribe to {}: {}", options_.name,
                      fmt::join(options_.topics, ", "), rd_kafka_err2str(err));
  }
  session_ = new_session();
  sequence_ = 0;
  held_.clear();
  at_end_.clear();
  settle_until_ = SteadyClock::now() + kSettle;
  return ok();
}

bool KafkaSource::caught_up() const {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return false;
  }
  Partitions assignment(raw);
  if (assignment->cnt == 0) {
    return false;
  }
  for (int i = 0; i < assignment->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = assignment->elems[i];
    if (!at_end_.contains({p.topic, p.partition})) {
      return false;
    }
  }
  return true;
}

Message KafkaSource::message_of(const rd_kafka_message_t& m) const {
  Message message;
  message.topic = rd_kafka_topic_name(m.rkt);
  if (m.payload != nullptr) {
    message.payload.assign(static_cast<const char*>(m.payload), m.len);
  }
  if (m.key != nullptr) {
    message.key = std::string(static_cast<const char*>(m.key), m.key_len);
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == 0; ++i) {
      message.headers.emplace_back(
          name, value != nullptr ? std::string(static_cast<const char*>(value), size) : "");
    }
  }
  const std::string* id = nullptr;
  if (!options_.id_header.empty()) {
    id = message.header(options_.id_header);
  } else {
    id = message.header("message-id");
    if (id == nullptr) {
      id = message.header("id");
    }
  }
  if (id != nullptr && !id->empty()) {
    message.id = *id;
  } else {
    message.id = fmt::format("{}:{}:{}", message.topic, m.partition, m.offset);
  }
  if (const std::string* type = message.header("content-type")) {
    message.content_type = *type;
  }
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  if (const std::int64_t ts = rd_kafka_message_timestamp(&m, &type); ts >= 0) {
    message.timestamp_ms = ts;
  }
  return message;
}

Result<std::optional<Batch>> KafkaSource::next(Deadline until, std::size_t max_changes) {
  Batch batch;
  const std::size_t max = std::max<std::size_t>(max_changes, 1);
  while (batch.changes.size() < max) {
    const std::chrono::milliseconds wait = batch.changes.empty()
                                               ? std::max(until.remaining(), kFirstWait)
                                               : std::min(until.remaining(), kLinger);
    rd_kafka_message_t* m = rd_kafka_consumer_poll(
        consumer_.get(), static_cast<int>(std::max<std::int64_t>(wait.count(), 0)));
    if (m == nullptr) {
      if (batch.changes.empty() && SteadyClock::now() < settle_until_ && !caught_up()) {
        continue;  // just opened: the assignment or a first fetch is on its way
      }
      break;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const std::string why = rd_kafka_message_errstr(m);
      const rd_kafka_resp_err_t err = m->err;
      if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        at_end_.insert({rd_kafka_topic_name(m->rkt), m->partition});
        rd_kafka_message_destroy(m);
        if (batch.changes.empty() && caught_up()) {
          break;
        }
        continue;
      }
      rd_kafka_message_destroy(m);
      if (err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
          err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
        return make_error(ErrorCode::kPermanent, "endpoint {}: consume {}: {}", options_.name,
                          fmt::join(options_.topics, ", "), why);
      }
      // Transport errors (librdkafka reconnects by itself), a topic that does
      // not exist yet (read once it does).
      spdlog::warn("endpoint {}: consumer: {}", options_.name, why);
      break;
    }
    Message message = message_of(*m);
    at_end_.erase({message.topic, m->partition});
    held_.push_back(Held{.sequence = ++sequence_,
                         .topic = message.topic,
                         .partition = m->partition,
                         .offset = m->offset});
    rd_kafka_message_destroy(m);
    batch.bytes += message.payload.size() + message.topic.size() + message.id.size() + 32;
    Position position = session_position(session_, sequence_);
    batch.changes.push_back(to_change(std::move(message), position));
    batch.end = std::move(position);
  }
  if (batch.changes.empty()) {
    return std::optional<Batch>();
  }
  return std::optional<Batch>(std::move(batch));
}

Status KafkaSource::release(const Position& durable_everywhere) {
  Result<SessionPosition> position = parse_session_position(durable_everywhere);
  if (!position) {
    return make_error(ErrorCode::kPermanent, "endpoint {}: {:?} is not a kafka source position",
                      options_.name, durable_everywhere);
  }
  // A checkpoint of an earlier session: committed then, or delivered again.
  if (position->session != session_ || !consumer_) {
    return ok();
  }
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> highest;
  while (!held_.empty() && held_.front().sequence <= position->sequence) {
    Held& held = held_.front();
    auto [it, added] = highest.try_emplace({std::move(held.topic), held.partition}, held.offset);
    if (!added) {
      it->second = std::max(it->second, held.offset);
    }
    held_.pop_front();
  }
  if (highest.empty()) {
    return ok();
  }
  Partitions offsets(rd_kafka_topic_partition_list_new(static_cast<int>(highest.size())));
  for (const auto& [partition, offset] : highest) {
    rd_kafka_topic_partition_list_add(offsets.get(), partition.first.c_str(), partition.second)
        ->offset = offset + 1;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), offsets.get(), /*async=*/0);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // A rebalance took the partitions, or the coordinator is away: those
    // messages are delivered again (the targets drop them by their id).
    spdlog::warn("endpoint {}: offsets not committed (delivered again later): {}", options_.name,
                 rd_kafka_err2str(err));
  }
  return ok();
}

int KafkaSource::compare(const Position& a, const Position& b) const {
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace megasync::connectors::kafka
