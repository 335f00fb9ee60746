// Registers the `nats` endpoint type.
#include <fmt/format.h>

#include "connectors/nats/endpoint.h"
#include "connectors/register.h"

namespace megasync::connectors {
namespace {

// "a,b" and lists: each entry a server URL.
std::vector<std::string> split_servers(const std::vector<std::string>& entries) {
  std::vector<std::string> servers;
  for (const std::string& entry : entries) {
    std::size_t start = 0;
    while (start <= entry.size()) {
      std::size_t comma = entry.find(',', start);
      if (comma == std::string::npos) {
        comma = entry.size();
      }
      std::string one = entry.substr(start, comma - start);
      if (!one.empty()) {
        servers.push_back(std::move(one));
      }
      start = comma + 1;
    }
  }
  return servers;
}

}  // namespace

void register_nats(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "nats";
  type.schema.description =
      "A NATS server or cluster (cnats): record source (a JetStream stream, durable pull "
      "consumer, acked once every target confirmed), record target (JetStream publish "
      "waiting for PubAcks, or core NATS publish).";
  type.schema.options = {
      OptionSpec{.name = "url",
                 .type = OptionType::kStringList,
                 .description = "Server URL(s), nats://[user:password@]host:port; several "
                                "(a list, or separated by commas) for a cluster. Instead of "
                                "host and port.",
                 .secret = true},
      OptionSpec{.name = "host",
                 .type = OptionType::kString,
                 .description = "Server host name or address (without url).",
                 .default_value = "127.0.0.1"},
      OptionSpec{.name = "port",
                 .type = OptionType::kInt,
                 .description = "Server port (without url).",
                 .default_value = "4222",
                 .min = 1,
                 .max = 65535},
      OptionSpec{.name = "user", .type = OptionType::kString, .description = "User name."},
      OptionSpec{.name = "password",
                 .type = OptionType::kString,
                 .description = "Password (use ${VAR} interpolation).",
                 .secret = true},
      OptionSpec{.name = "token",
                 .type = OptionType::kString,
                 .description = "Authentication token, instead of user and password.",
                 .secret = true},
      OptionSpec{.name = "stream",
                 .type = OptionType::kString,
                 .description = "Source: the JetStream stream read (required). Target: the "
                                "stream created for the published subjects with "
                                "create_stream."},
      OptionSpec{.name = "subjects",
                 .type = OptionType::kStringList,
                 .description = "Source: the subjects read (NATS wildcards \"orders.*\", "
                                "\"orders.>\"); default: all of the stream's. One is filtered "
                                "by the consumer, several by megasync (NATS 2.9 consumers take "
                                "one filter)."},
      OptionSpec{.name = "durable",
                 .type = OptionType::kString,
                 .description = "Source: the durable consumer's name; default "
                                "\"megasync-<job>\" ('.', '*', '>', '/', whitespace of the job "
                                "name replaced by '_')."},
      OptionSpec{.name = "create_stream",
                 .type = OptionType::kObject,
                 .description = "Create `stream` (file storage) when it is missing.",
                 .fields = {OptionSpec{.name = "subjects",
                                       .type = OptionType::kStringList,
                                       .description = "The subjects the created stream takes.",
                                       .required = true}}},
      OptionSpec{.name = "ack_wait",
                 .type = OptionType::kDuration,
                 .description = "Source: how long the server waits for an ack before "
                                "redelivering (messages held longer are marked in progress); "
                                "after a crash, unacked messages come again after it.",
                 .default_value = "60s"},
      OptionSpec{.name = "max_ack_pending",
                 .type = OptionType::kInt,
                 .description = "Source: messages delivered and not yet acked, at most; keep it "
                                "above batch_size × 10 × (queue_batches + 2) for full speed.",
                 .default_value = "20000",
                 .min = 1},
      OptionSpec{.name = "subject",
                 .type = OptionType::kString,
                 .description = "Target: the subject each message is published to, a message "
                                "template ({topic}, {topic.N}, {key}, {id}, {header.NAME}).",
                 .default_value = "\"{topic}\""},  // quoted: a YAML flow mapping otherwise
      OptionSpec{.name = "jetstream",
                 .type = OptionType::kBool,
                 .description = "Target: publish through JetStream and wait for every PubAck "
                                "(Nats-Msg-Id = the message id); false: core NATS publish "
                                "and a flush (at most once at the server).",
                 .default_value = "true"},
      OptionSpec{.name = "publish_timeout",
                 .type = OptionType::kDuration,
                 .description = "Target: how long a batch waits for its PubAcks (or flush).",
                 .default_value = "30s"},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    nats::NatsOptions options;
    options.name = endpoint.name;
    if (o.has("url")) {
      options.servers = split_servers(o.strings("url"));
    }
    if (options.servers.empty()) {
      options.servers.push_back(fmt::format("nats://{}:{}", o.string("host"), o.integer("port")));
    }
    if (o.has("user")) {
      options.user = o.string("user");
    }
    if (o.has("password")) {
      options.password = o.string("password");
    }
    if (o.has("token")) {
      if (options.user || options.password) {
        return make_error(ErrorCode::kInvalidConfig,
                          "endpoint {}: set user/password or token, not both", endpoint.name);
      }
      options.token = o.string("token");
    }
    if (o.has("stream")) {
      options.stream = o.string("stream");
    }
    if (o.has("subjects")) {
      options.subjects = o.strings("subjects");
    }
    if (o.has("durable")) {
      options.durable = o.string("durable");
    }
    if (o.has("create_stream")) {
      options.create_stream_subjects = o.object("create_stream").strings("subjects");
      if (options.stream.empty()) {
        return make_error(ErrorCode::kInvalidConfig,
                          "endpoint {}: create_stream needs `stream`, the name to create",
                          endpoint.name);
      }
    }
    options.ack_wait = o.duration("ack_wait");
    if (options.ack_wait < std::chrono::seconds(1)) {
      return make_error(ErrorCode::kInvalidConfig, "endpoint {}: ack_wait must be at least 1s",
                        endpoint.name);
    }
    options.max_ack_pending = o.integer("max_ack_pending");
    options.subject_template = o.string("subject");
    options.jetstream = o.boolean("jetstream");
    options.publish_timeout = o.duration("publish_timeout");
    Result<MessageTemplate> subject = MessageTemplate::parse(options.subject_template);
    if (!subject) {
      return fail(subject.error().with_context(fmt::format("endpoint {}: subject", endpoint.name)));
    }
    return std::make_shared<nats::NatsEndpoint>(std::move(options), std::move(*subject));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
