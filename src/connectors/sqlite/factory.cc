// Registers the `sqlite` endpoint type.
#include "connectors/register.h"
#include "connectors/sqlite/endpoint.h"

namespace megasync::connectors {

void register_sqlite(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "sqlite";
  type.schema.description = "A SQLite database file.";
  type.schema.options = {
      OptionSpec{
          .name = "path",
          .type = OptionType::kString,
          .description = "The database file; relative paths are relative to the config file.",
          .required = true},
      OptionSpec{.name = "create",
                 .type = OptionType::kBool,
                 .description = "Create the file when a job first writes to it.",
                 .default_value = "false"},
      OptionSpec{.name = "busy_timeout",
                 .type = OptionType::kDuration,
                 .description = "How long to wait for a lock held by another connection.",
                 .default_value = "5s"},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config& config) -> Result<std::shared_ptr<engine::Endpoint>> {
    sqlite::SqliteOptions options;
    options.path = config.resolve_path(endpoint.options.string("path"));
    options.create = endpoint.options.boolean("create");
    options.busy_timeout = endpoint.options.duration("busy_timeout");
    return std::make_shared<sqlite::SqliteEndpoint>(std::move(options));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
