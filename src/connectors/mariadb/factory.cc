// Registers the `mariadb` endpoint type.
#include "connectors/mariadb/endpoint.h"
#include "connectors/register.h"

namespace megasync::connectors {

void register_mariadb(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "mariadb";
  type.schema.description = "A MariaDB or MySQL database (MariaDB Connector/C).";
  type.schema.options = {
      OptionSpec{.name = "url",
                 .type = OptionType::kString,
                 .description = "mysql://user:password@host:port/database; when set, the other "
                                "connection options are not used.",
                 .secret = true},
      OptionSpec{.name = "host",
                 .type = OptionType::kString,
                 .description = "Server host name or address.",
                 .default_value = "127.0.0.1"},
      OptionSpec{.name = "port",
                 .type = OptionType::kInt,
                 .description = "Server port.",
                 .default_value = "3306",
                 .min = 1,
                 .max = 65535},
      OptionSpec{.name = "user", .type = OptionType::kString, .description = "User to connect as."},
      OptionSpec{.name = "password",
                 .type = OptionType::kString,
                 .description = "Password of the user (use ${VAR} interpolation).",
                 .secret = true},
      OptionSpec{.name = "database",
                 .type = OptionType::kString,
                 .description = "Default database: tables without a database prefix and the "
                                "_megasync_checkpoints table live there."},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    mariadb::MariadbOptions options;
    if (o.has("url")) {
      if (Status s = mariadb::parse_url(o.string("url"), options); !s) {
        return fail(s.error().with_context(fmt::format("endpoint {}", endpoint.name)));
      }
      return std::make_shared<mariadb::MariadbEndpoint>(std::move(options));
    }
    if (!o.has("database")) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: set database (and host, port, user, password), or url",
                        endpoint.name);
    }
    options.host = o.string("host");
    options.port = static_cast<int>(o.integer("port"));
    if (o.has("user")) {
      options.user = o.string("user");
    }
    if (o.has("password")) {
      options.password = o.string("password");
    }
    options.database = o.string("database");
    return std::make_shared<mariadb::MariadbEndpoint>(std::move(options));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
