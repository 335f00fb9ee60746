// Registers the `redis_streams` endpoint type.
#include <fmt/format.h>

#include "connectors/redis/connection_options.h"
#include "connectors/redis_streams/endpoint.h"
#include "connectors/register.h"

namespace megasync::connectors {

void register_redis_streams(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "redis_streams";
  type.schema.description =
      "Redis streams as messages (hiredis, RESP2): record source (a consumer group, entries "
      "acked once every target confirmed), record target (XADD, one pipeline per batch).";
  type.schema.options = redis::connection_option_specs();
  std::vector<config::OptionSpec> own = {
      OptionSpec{.name = "db",
                 .type = OptionType::kInt,
                 .description = "The database the streams are in.",
                 .default_value = "0",
                 .min = 0,
                 .max = 65535},
      OptionSpec{.name = "streams",
                 .type = OptionType::kStringList,
                 .description = "Source: the streams read, by name (created empty when "
                                "missing) or Redis glob (\"orders:*\", matched every 10 s); "
                                "default: the job's collections."},
      OptionSpec{.name = "group",
                 .type = OptionType::kString,
                 .description = "Source: the consumer group; default \"megasync-<job>\"."},
      OptionSpec{.name = "consumer",
                 .type = OptionType::kString,
                 .description = "Source: the consumer name within the group; its pending "
                                "entries are read again after a restart.",
                 .default_value = "megasync"},
      OptionSpec{.name = "start",
                 .type = OptionType::kString,
                 .description = "Source: where a new group starts: earliest (every entry, ID "
                                "0) or latest (entries added from now on, ID $).",
                 .default_value = "earliest"},
      OptionSpec{.name = "id_field",
                 .type = OptionType::kString,
                 .description = "Source: the field holding the message id; default (or when "
                                "the entry lacks it): \"<stream>:<entry id>\"."},
      OptionSpec{.name = "payload_field",
                 .type = OptionType::kString,
                 .description = "Source: the field holding the payload.",
                 .default_value = "payload"},
      OptionSpec{.name = "key_field",
                 .type = OptionType::kString,
                 .description = "Source: the field holding the message key.",
                 .default_value = "key"},
      OptionSpec{.name = "stream",
                 .type = OptionType::kString,
                 .description = "Target: the stream each message is appended to, a message "
                                "template ({topic}, {topic.N}, {key}, {id}, {header.NAME}).",
                 .default_value = "\"{topic}\""},  // quoted: a YAML flow mapping otherwise
      OptionSpec{.name = "maxlen",
                 .type = OptionType::kInt,
                 .description = "Target: trim each stream to about this many entries "
                                "(XADD MAXLEN ~ N); default: no trimming.",
                 .min = 1},
  };
  type.schema.options.insert(type.schema.options.end(), own.begin(), own.end());
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    redis_streams::StreamsOptions options;
    redis::RedisOptions& server = options.server;
    server.name = endpoint.name;
    server.host = o.string("host");
    server.port = static_cast<int>(o.integer("port"));
    server.db = static_cast<int>(o.integer("db"));
    if (o.has("user")) {
      server.user = o.string("user");
    }
    if (o.has("password")) {
      server.password = o.string("password");
    }
    if (o.has("url")) {
      if (Status s = redis::parse_url(o.string("url"), server); !s) {
        return fail(s.error().with_context(fmt::format("endpoint {}", endpoint.name)));
      }
    }
    if (o.has("streams")) {
      options.streams = o.strings("streams");
    }
    if (o.has("group")) {
      options.group = o.string("group");
    }
    options.consumer = o.string("consumer");
    const std::string start = o.string("start");
    if (start != "earliest" && start != "latest") {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: start: {:?} is not earliest or latest", endpoint.name, start);
    }
    options.start_latest = start == "latest";
    if (o.has("id_field")) {
      options.id_field = o.string("id_field");
    }
    options.payload_field = o.string("payload_field");
    options.key_field = o.string("key_field");
    options.stream_template = o.string("stream");
    if (o.has("maxlen")) {
      options.maxlen = o.integer("maxlen");
    }
    Result<MessageTemplate> stream = MessageTemplate::parse(options.stream_template);
    if (!stream) {
      return fail(stream.error().with_context(fmt::format("endpoint {}: stream", endpoint.name)));
    }
    return std::make_shared<redis_streams::StreamsEndpoint>(std::move(options), std::move(*stream));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
