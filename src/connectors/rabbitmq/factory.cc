// Registers the `rabbitmq` endpoint type.
#include <fmt/format.h>

#include "connectors/rabbitmq/endpoint.h"
#include "connectors/register.h"
#include "core/redact.h"

namespace megasync::connectors {

void register_rabbitmq(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "rabbitmq";
  type.schema.description =
      "A RabbitMQ broker (AMQP 0-9-1, rabbitmq-c): message source (consumes queues, acks once "
      "every target confirmed), message target (publishes with publisher confirms).";
  type.schema.options = {
      OptionSpec{.name = "host",
                 .type = OptionType::kString,
                 .description = "Broker host name or address.",
                 .default_value = "127.0.0.1"},
      OptionSpec{.name = "port",
                 .type = OptionType::kInt,
                 .description = "AMQP port.",
                 .default_value = "5672",
                 .min = 1,
                 .max = 65535},
      OptionSpec{.name = "vhost",
                 .type = OptionType::kString,
                 .description = "Virtual host.",
                 .default_value = "/"},
      OptionSpec{.name = "user",
                 .type = OptionType::kString,
                 .description = "User name (PLAIN login).",
                 .default_value = "guest"},
      OptionSpec{.name = "password",
                 .type = OptionType::kString,
                 .description = "Password (use ${VAR} interpolation); default guest.",
                 .secret = true},
      OptionSpec{.name = "heartbeat",
                 .type = OptionType::kDuration,
                 .description = "AMQP heartbeat interval (0: none); a silent broker is given up "
                                "after two.",
                 .default_value = "30s"},
      OptionSpec{.name = "queues",
                 .type = OptionType::kStringList,
                 .description = "Source: the queues to consume; one collection (topic) each."},
      OptionSpec{.name = "declare",
                 .type = OptionType::kBool,
                 .description = "Source: declare the queues (durable) when missing; false: a "
                                "missing queue is a configuration error.",
                 .default_value = "false"},
      OptionSpec{.name = "prefetch",
                 .type = OptionType::kInt,
                 .description = "Source: unacknowledged messages the broker may send ahead "
                                "(basic.qos); at least the job's batch_size.",
                 .default_value = "1000",
                 .min = 1,
                 .max = 65535},
      OptionSpec{.name = "exchange",
                 .type = OptionType::kString,
                 .description = "Target: the exchange to publish to; none (or \"\"): the "
                                "default exchange, where the routing key names the queue."},
      OptionSpec{.name = "routing_key",
                 .type = OptionType::kString,
                 .description = "Target: the routing key, a template: {topic}, {topic.N}, {key}, "
                                "{id}, {header.NAME}.",
                 .default_value = "\"{topic}\""},  // quoted: YAML
      OptionSpec{.name = "declare_queues",
                 .type = OptionType::kStringList,
                 .description = "Target: queues to declare (durable) before publishing."},
      OptionSpec{.name = "persistent",
                 .type = OptionType::kBool,
                 .description = "Target: publish persistent messages (delivery mode 2).",
                 .default_value = "true"},
      OptionSpec{.name = "mandatory",
                 .type = OptionType::kBool,
                 .description = "Target: publish mandatory: a message no queue takes is "
                                "returned and dead-lettered instead of dropped.",
                 .default_value = "true"},
      OptionSpec{.name = "confirm_timeout",
                 .type = OptionType::kDuration,
                 .description = "Target: how long to wait for the broker to confirm a batch "
                                "before trying it again.",
                 .default_value = "30s"},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    rabbitmq::RabbitOptions options;
    options.name = endpoint.name;
    options.host = o.string("host");
    options.port = static_cast<int>(o.integer("port"));
    options.vhost = o.string("vhost");
    options.user = o.string("user");
    if (o.has("password")) {
      options.password = o.string("password");
      register_secret(options.password);
    }
    options.heartbeat_s = static_cast<int>(
        std::chrono::duration_cast<std::chrono::seconds>(o.duration("heartbeat")).count());
    if (o.has("queues")) {
      options.queues = o.strings("queues");
    }
    options.declare = o.boolean("declare");
    options.prefetch = static_cast<int>(o.integer("prefetch"));
    if (o.has("exchange")) {
      options.exchange = o.string("exchange");
    }
    options.routing_key = o.string("routing_key");
    if (o.has("declare_queues")) {
      options.declare_queues = o.strings("declare_queues");
    }
    options.persistent = o.boolean("persistent");
    options.mandatory = o.boolean("mandatory");
    options.confirm_timeout = o.duration("confirm_timeout");
    Result<MessageTemplate> routing_key = MessageTemplate::parse(options.routing_key);
    if (!routing_key) {
      return fail(
          routing_key.error().with_context(fmt::format("endpoint {}: routing_key", endpoint.name)));
    }
    return std::make_shared<rabbitmq::RabbitEndpoint>(std::move(options), std::move(*routing_key));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
