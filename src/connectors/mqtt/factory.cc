// Registers the `mqtt` endpoint type.
#include <fmt/format.h>

#include "connectors/mqtt/endpoint.h"
#include "connectors/register.h"
#include "core/redact.h"

namespace megasync::connectors {

void register_mqtt(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "mqtt";
  type.schema.description =
      "An MQTT broker (v5 or 3.1.1): message source (topic filters, persistent session, QoS 1, "
      "each PUBACK sent once every target has the message), message target (QoS 1 publish "
      "waiting for every PUBACK).";
  type.schema.options = {
      OptionSpec{.name = "host",
                 .type = OptionType::kString,
                 .description = "Broker host name or address.",
                 .default_value = "127.0.0.1"},
      OptionSpec{.name = "port",
                 .type = OptionType::kInt,
                 .description = "Broker port (1883; 8883 is the usual TLS port).",
                 .default_value = "1883",
                 .min = 1,
                 .max = 65535},
      OptionSpec{.name = "protocol",
                 .type = OptionType::kString,
                 .description = "MQTT version: v5, or v311 (3.1.1: no headers, key, content "
                                "type or message id travel).",
                 .default_value = "v5",
                 .choices = {"v5", "v311"}},
      OptionSpec{.name = "client_id",
                 .type = OptionType::kString,
                 .description = "Source: the client id of the persistent session; default "
                                "\"megasync-<job>\". Target: \"<client_id>-pub\" when set, else "
                                "one made up by the library."},
      OptionSpec{.name = "user", .type = OptionType::kString, .description = "User name."},
      OptionSpec{.name = "password",
                 .type = OptionType::kString,
                 .description = "Password (use ${VAR} interpolation).",
                 .secret = true},
      OptionSpec{.name = "ca_file",
                 .type = OptionType::kString,
                 .description = "TLS: the CA certificates (PEM) the broker's certificate is "
                                "checked against; TLS is on when set."},
      OptionSpec{.name = "tls_insecure",
                 .type = OptionType::kBool,
                 .description = "TLS: do not check that the certificate names `host` (tests "
                                "only).",
                 .default_value = "false"},
      OptionSpec{.name = "keepalive",
                 .type = OptionType::kDuration,
                 .description = "MQTT keepalive: a silent connection is given up after 1.5 times "
                                "this.",
                 .default_value = "30s"},
      OptionSpec{.name = "qos",
                 .type = OptionType::kInt,
                 .description = "QoS of subscriptions and publishes: 1 (at least once), or 0 "
                                "(at most once: nothing is acknowledged or redelivered).",
                 .default_value = "1",
                 .min = 0,
                 .max = 1},
      OptionSpec{.name = "topics",
                 .type = OptionType::kStringList,
                 .description = "Source: the topic filters to subscribe to (\"sensors/+/temp\", "
                                "\"orders/#\"); one collection each."},
      OptionSpec{.name = "session_expiry",
                 .type = OptionType::kDuration,
                 .description = "Source (v5): how long the broker keeps the session (its "
                                "subscriptions and queued messages) while megasync is away.",
                 .default_value = "168h"},
      OptionSpec{.name = "max_unreleased",
                 .type = OptionType::kInt,
                 .description = "Source: QoS 1 messages received and not yet acknowledged, at "
                                "most (the v5 Receive Maximum, capped at 65535).",
                 .default_value = "10000",
                 .min = 1},
      OptionSpec{.name = "id_property",
                 .type = OptionType::kString,
                 .description = "The v5 user property carrying the message id.",
                 .default_value = "message-id"},
      OptionSpec{.name = "key_property",
                 .type = OptionType::kString,
                 .description = "The v5 user property carrying the message key.",
                 .default_value = "key"},
      OptionSpec{.name = "timestamp_property",
                 .type = OptionType::kString,
                 .description = "The v5 user property carrying the timestamp (milliseconds "
                                "since the epoch).",
                 .default_value = "timestamp"},
      OptionSpec{.name = "topic",
                 .type = OptionType::kString,
                 .description = "Target: the topic each message is published to, a message "
                                "template ({topic}, {topic.N}, {key}, {id}, {header.NAME}).",
                 .default_value = "\"{topic}\""},  // quoted: a YAML flow mapping otherwise
      OptionSpec{.name = "retain",
                 .type = OptionType::kBool,
                 .description = "Target: publish retained messages.",
                 .default_value = "false"},
      OptionSpec{.name = "max_inflight",
                 .type = OptionType::kInt,
                 .description = "Target: messages published and not yet acknowledged, at most "
                                "(the broker's receive maximum may lower it).",
                 .default_value = "1000",
                 .min = 1,
                 .max = 65535},
      OptionSpec{.name = "publish_timeout",
                 .type = OptionType::kDuration,
                 .description = "Target: how long a batch waits for its PUBACKs before it is "
                                "tried again.",
                 .default_value = "30s"},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    // The engine names the endpoint in front of the errors below.
    const config::Options& o = endpoint.options;
    mqtt::MqttOptions options;
    options.name = endpoint.name;
    options.host = o.string("host");
    options.port = static_cast<int>(o.integer("port"));
    options.protocol = o.string("protocol") == "v311" ? 4 : 5;
    if (o.has("client_id")) {
      options.client_id = o.string("client_id");
    }
    if (o.has("user")) {
      options.user = o.string("user");
    }
    if (o.has("password")) {
      options.password = o.string("password");
      register_secret(*options.password);
    }
    if (o.has("ca_file")) {
      options.ca_file = o.string("ca_file");
    }
    options.tls_insecure = o.boolean("tls_insecure");
    const auto seconds = [&](const char* name) {
      return std::chrono::duration_cast<std::chrono::seconds>(o.duration(name)).count();
    };
    options.keepalive_s = static_cast<int>(seconds("keepalive"));
    if (options.keepalive_s < 5 || options.keepalive_s > 65535) {
      return make_error(ErrorCode::kInvalidConfig, "keepalive must be between 5s and 65535s");
    }
    options.qos = static_cast<int>(o.integer("qos"));
    if (o.has("topics")) {
      options.topics = o.strings("topics");
      for (const std::string& topic : options.topics) {
        if (std::string why = mqtt::invalid_topic_filter(topic); !why.empty()) {
          return make_error(ErrorCode::kInvalidConfig, "topics: {:?} is not a topic filter: {}",
                            topic, why);
        }
      }
    }
    const auto expiry = seconds("session_expiry");
    options.session_expiry_s = static_cast<std::uint32_t>(
        std::clamp<std::int64_t>(expiry, 0, std::numeric_limits<std::uint32_t>::max()));
    options.max_unreleased = o.integer("max_unreleased");
    options.properties.id = o.string("id_property");
    options.properties.key = o.string("key_property");
    options.properties.timestamp = o.string("timestamp_property");
    for (const auto& [name, value] :
         {std::pair{"id_property", &options.properties.id},
          std::pair{"key_property", &options.properties.key},
          std::pair{"timestamp_property", &options.properties.timestamp}}) {
      if (value->empty()) {
        return make_error(ErrorCode::kInvalidConfig, "{} must not be empty", name);
      }
    }
    options.topic_template = o.string("topic");
    options.retain = o.boolean("retain");
    options.max_inflight = static_cast<int>(o.integer("max_inflight"));
    options.publish_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(o.duration("publish_timeout"));
    Result<MessageTemplate> topic = MessageTemplate::parse(options.topic_template);
    if (!topic) {
      return fail(topic.error().with_context("topic"));
    }
    return std::make_shared<mqtt::MqttEndpoint>(std::move(options), std::move(*topic));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
