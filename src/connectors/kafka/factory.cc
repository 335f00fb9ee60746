// Registers the `kafka` endpoint type.
#include <fmt/format.h>

#include "connectors/kafka/endpoint.h"
#include "connectors/register.h"

namespace megasync::connectors {

void register_kafka(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "kafka";
  type.schema.description =
      "A Kafka cluster (librdkafka): message source (a consumer group, offsets committed once "
      "every target confirmed), message target (idempotent producer, acks=all, waits for every "
      "delivery report).";
  type.schema.options = {
      OptionSpec{.name = "bootstrap_servers",
                 .type = OptionType::kString,
                 .description = "Bootstrap brokers, host:port[,host:port...].",
                 .required = true},
      OptionSpec{.name = "topics",
                 .type = OptionType::kStringList,
                 .description = "Source: the topics to read, names or ^regex; one collection "
                                "(topic) each."},
      OptionSpec{.name = "group",
                 .type = OptionType::kString,
                 .description = "Source: the consumer group; default megasync-<job>."},
      OptionSpec{.name = "id_header",
                 .type = OptionType::kString,
                 .description = "Source: the header holding the message id; default "
                                "message-id, then id; without one: <topic>:<partition>:<offset>."},
      OptionSpec{.name = "topic",
                 .type = OptionType::kString,
                 .description = "Target: the topic, a template: {topic}, {topic.N}, {key}, {id}, "
                                "{header.NAME}.",
                 .default_value = "\"{topic}\""},  // quoted: YAML
      OptionSpec{.name = "delivery_timeout",
                 .type = OptionType::kDuration,
                 .description = "Target: how long a message may take to be delivered "
                                "(delivery.timeout.ms) before its batch is tried again.",
                 .default_value = "30s"},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    kafka::KafkaOptions options;
    options.name = endpoint.name;
    options.bootstrap_servers = o.string("bootstrap_servers");
    if (o.has("topics")) {
      options.topics = o.strings("topics");
    }
    if (o.has("group")) {
      options.group = o.string("group");
    }
    if (o.has("id_header")) {
      options.id_header = o.string("id_header");
    }
    options.topic = o.string("topic");
    options.delivery_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(o.duration("delivery_timeout"));
    Result<MessageTemplate> topic = MessageTemplate::parse(options.topic);
    if (!topic) {
      return fail(topic.error().with_context(fmt::format("endpoint {}: topic", endpoint.name)));
    }
    return std::make_shared<kafka::KafkaEndpoint>(std::move(options), std::move(*topic));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
