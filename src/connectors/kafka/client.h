// Settings and librdkafka helpers shared by the kafka source, sink and probe.
//
// Stateless helpers only; every user (probe, source, sink) owns its own
// rd_kafka_t handle.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace megasync::connectors::kafka {

struct KafkaOptions {
  std::string name;  // the endpoint's, for messages
  std::string bootstrap_servers;
  // Source.
  std::string group;                // empty: default_group(job)
  std::vector<std::string> topics;  // names, or ^regex
  std::string id_header;            // empty: "message-id", then "id"
  // Target.
  std::string topic = "{topic}";  // MessageTemplate text
  std::chrono::milliseconds delivery_timeout{30000};
};

// The consumer group of a job's source when none is configured: "megasync-<job>".
std::string default_group(std::string_view job);

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// A configuration with bootstrap.servers and the client id set, plus
// `settings` (name, value); an error names the endpoint and the setting.
Result<Conf> make_conf(const KafkaOptions& options,
                       const std::vector<std::pair<std::string, std::string>>& settings);
// Creates the client; takes `conf` (also on failure).
Result<Handle> make_handle(const KafkaOptions& options, rd_kafka_type_t type, Conf conf);

// True for delivery errors that no retry fixes (the message, the topic or a
// policy is at fault): the message is rejected (dead-lettered).
bool permanent_delivery_error(rd_kafka_resp_err_t err);

}  // namespace megasync::connectors::kafka
