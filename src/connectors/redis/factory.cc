// Registers the `redis` endpoint type.
#include <fmt/format.h>

#include <charconv>

#include "connectors/redis/connection_options.h"
#include "connectors/redis/endpoint.h"
#include "connectors/register.h"

namespace megasync::connectors {

void register_redis(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "redis";
  type.schema.description =
      "A Redis 7 server (hiredis, RESP2): record source (snapshot, then keyspace "
      "notifications), record target (RESTORE), reader for verification.";
  type.schema.options = redis::connection_option_specs();
  std::vector<config::OptionSpec> own = {
      OptionSpec{.name = "db",
                 .type = OptionType::kInt,
                 .description = "Source: the database to read (collection db<N>). Target: the "
                                "database every collection is written to (database mapping, "
                                "e.g. 0 -> 3); without it collection db<N> goes to database N.",
                 .min = 0,
                 .max = 65535},
      OptionSpec{.name = "databases",
                 .type = OptionType::kStringList,
                 .description = "Source: several databases to read, by index (\"0\", \"1\"); "
                                "one collection db<N> each. Not with db."},
      OptionSpec{.name = "include",
                 .type = OptionType::kStringList,
                 .description = "Keys to sync, by Redis glob (\"user:*\"); default: all."},
      OptionSpec{.name = "exclude",
                 .type = OptionType::kStringList,
                 .description = "Keys not to sync, by Redis glob (\"*:tmp\"); applied after "
                                "include."},
      OptionSpec{.name = "configure_notifications",
                 .type = OptionType::kBool,
                 .description = "Source: turn on the keyspace notifications it needs "
                                "(CONFIG SET notify-keyspace-events, adding K and A) when they "
                                "are off; false: fail with instructions instead.",
                 .default_value = "true"},
  };
  type.schema.options.insert(type.schema.options.end(), own.begin(), own.end());
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    redis::RedisOptions options;
    options.name = endpoint.name;
    options.host = o.string("host");
    options.port = static_cast<int>(o.integer("port"));
    if (o.has("user")) {
      options.user = o.string("user");
    }
    if (o.has("password")) {
      options.password = o.string("password");
    }
    if (o.has("url")) {
      if (Status s = redis::parse_url(o.string("url"), options); !s) {
        return fail(s.error().with_context(fmt::format("endpoint {}", endpoint.name)));
      }
    }
    if (o.has("db")) {
      options.db = static_cast<int>(o.integer("db"));
    }
    if (o.has("databases")) {
      if (options.db) {
        return make_error(ErrorCode::kInvalidConfig,
                          "endpoint {}: set db (one database) or databases (several), not both",
                          endpoint.name);
      }
      for (const std::string& text : o.strings("databases")) {
        int db = -1;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), db);
        if (ec != std::errc() || ptr != text.data() + text.size() || db < 0 || db > 65535) {
          return make_error(ErrorCode::kInvalidConfig,
                            "endpoint {}: databases: {:?} is not a database index (0-65535)",
                            endpoint.name, text);
        }
        options.databases.push_back(db);
      }
    }
    if (o.has("include")) {
      options.keys.include = o.strings("include");
    }
    if (o.has("exclude")) {
      options.keys.exclude = o.strings("exclude");
    }
    options.configure_notifications = o.boolean("configure_notifications");
    return std::make_shared<redis::RedisEndpoint>(std::move(options));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
