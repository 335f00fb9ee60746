// Registers the `sqs` endpoint type.
#include <fmt/format.h>

#include "connectors/http/aws.h"
#include "connectors/register.h"
#include "connectors/sqs/endpoint.h"

namespace megasync::connectors {

void register_sqs(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "sqs";
  type.schema.description =
      "Amazon SQS or an SQS-compatible service (JSON protocol, SigV4): message source "
      "(receives, deletes once every target confirmed), message target (sends in batches).";
  type.schema.options = {
      OptionSpec{.name = "endpoint",
                 .type = OptionType::kString,
                 .description = "The service's URL (http://127.0.0.1:4566); default: AWS's "
                                "https://sqs.<region>.amazonaws.com."},
      OptionSpec{.name = "region",
                 .type = OptionType::kString,
                 .description = "The region requests are signed for.",
                 .default_value = "us-east-1"},
      OptionSpec{.name = "create",
                 .type = OptionType::kBool,
                 .description = "Create missing queues (FIFO when the name ends in .fifo); "
                                "false: a missing queue is an error naming it.",
                 .default_value = "false"},
      OptionSpec{.name = "queues",
                 .type = OptionType::kStringList,
                 .description = "Source: the queues to receive from, by name or queue URL; one "
                                "collection (topic) each, named after the queue."},
      OptionSpec{.name = "visibility_timeout",
                 .type = OptionType::kDuration,
                 .description = "Source: how long a received message stays hidden from other "
                                "receivers; must exceed a cycle (receive, apply at every target, "
                                "delete), or messages are delivered twice.",
                 .default_value = "60s"},
      OptionSpec{.name = "id_attribute",
                 .type = OptionType::kString,
                 .description = "The message attribute holding the message id (source: used when "
                                "present, else the SQS MessageId; target: set).",
                 .default_value = "message-id"},
      OptionSpec{.name = "key_attribute",
                 .type = OptionType::kString,
                 .description = "The message attribute holding the message key.",
                 .default_value = "key"},
      OptionSpec{.name = "queue",
                 .type = OptionType::kString,
                 .description = "Target: the queue to send to, a template: {topic}, {topic.N}, "
                                "{key}, {id}, {header.NAME}.",
                 .default_value = "\"{topic}\""},  // quoted: YAML
      OptionSpec{.name = "message_group_id",
                 .type = OptionType::kString,
                 .description = "Target, FIFO queues: the MessageGroupId of messages without a "
                                "key (none: such a message is dead-lettered)."},
      OptionSpec{.name = "max_message_bytes",
                 .type = OptionType::kBytes,
                 .description = "Target: the largest message (body and attributes) sent; larger "
                                "ones are dead-lettered. SQS's default limit is 256 KiB; queues "
                                "may allow up to 1 MiB.",
                 .default_value = "256KiB"},
      OptionSpec{.name = "request_timeout",
                 .type = OptionType::kDuration,
                 .description = "How long one request may take (a long poll's wait is added).",
                 .default_value = "30s"},
  };
  for (config::OptionSpec& spec : http::aws_credential_option_specs()) {
    type.schema.options.push_back(std::move(spec));
  }
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    sqs::SqsOptions options;
    options.name = endpoint.name;
    options.region = o.string("region");
    if (o.has("endpoint")) {
      options.endpoint = o.string("endpoint");
      while (options.endpoint.ends_with("/")) {
        options.endpoint.pop_back();
      }
      if (!options.endpoint.starts_with("http://") && !options.endpoint.starts_with("https://")) {
        return make_error(ErrorCode::kInvalidConfig,
                          "endpoint {}: endpoint must be an http:// or https:// URL, got '{}'",
                          endpoint.name, options.endpoint);
      }
    } else {
      options.endpoint = "https://sqs." + options.region + ".amazonaws.com";
    }
    Result<http::AwsCredentials> credentials = http::read_aws_credentials(o);
    if (!credentials) {
      return fail(credentials.error().with_context(fmt::format("endpoint {}", endpoint.name)));
    }
    options.credentials = std::move(*credentials);
    options.create = o.boolean("create");
    if (o.has("queues")) {
      options.queues = o.strings("queues");
    }
    options.visibility_timeout =
        std::chrono::duration_cast<std::chrono::seconds>(o.duration("visibility_timeout"));
    if (options.visibility_timeout.count() < 1 || options.visibility_timeout.count() > 43200) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: visibility_timeout must be between 1s and 12h (SQS's "
                        "limits)",
                        endpoint.name);
    }
    options.id_attribute = o.string("id_attribute");
    options.key_attribute = o.string("key_attribute");
    if (options.id_attribute.empty() || options.key_attribute.empty() ||
        options.id_attribute == options.key_attribute) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: id_attribute and key_attribute must be two different "
                        "non-empty attribute names",
                        endpoint.name);
    }
    options.queue = o.string("queue");
    if (o.has("message_group_id")) {
      options.message_group_id = o.string("message_group_id");
    }
    options.max_message_bytes = o.bytes("max_message_bytes");
    if (options.max_message_bytes < 1024 || options.max_message_bytes > (1u << 20)) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: max_message_bytes must be between 1KiB and 1MiB (SQS's "
                        "limits)",
                        endpoint.name);
    }
    options.request_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(o.duration("request_timeout"));
    Result<MessageTemplate> queue = MessageTemplate::parse(options.queue);
    if (!queue) {
      return fail(queue.error().with_context(fmt::format("endpoint {}: queue", endpoint.name)));
    }
    return std::make_shared<sqs::SqsEndpoint>(std::move(options), std::move(*queue));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
