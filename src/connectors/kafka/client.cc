#include "connectors/kafka/client.h"

#include <fmt/format.h>

namespace megasync::connectors::kafka {

std::string default_group(std::string_view job) {
  return fmt::format("megasync-{}", job);
}

Result<Conf> make_conf(const KafkaOptions& options,
                       const std::vector<std::pair<std::string, std::string>>& settings) {
  Conf conf(rd_kafka_conf_new());
  std::vector<std::pair<std::string, std::string>> all = {
      {"bootstrap.servers", options.bootstrap_servers}, {"client.id", "megasync"}};
  all.insert(all.end(), settings.begin(), settings.end());
  char why[512];
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), why, sizeof why) !=
        RD_KAFKA_CONF_OK) {
      return make_error(ErrorCode::kInvalidConfig, "endpoint {}: librdkafka setting {}: {}",
                        options.name, name, why);
    }
  }
  return conf;
}

Result<Handle> make_handle(const KafkaOptions& options, rd_kafka_type_t type, Conf conf) {
  char why[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), why, sizeof why);
  if (rk == nullptr) {
    return make_error(ErrorCode::kInvalidConfig, "endpoint {}: cannot create the Kafka {}: {}",
                      options.name, type == RD_KAFKA_PRODUCER ? "producer" : "consumer", why);
  }
  (void)conf.release();  // rd_kafka_new took it
  return Handle(rk);
}

bool permanent_delivery_error(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

}  // namespace megasync::connectors::kafka
