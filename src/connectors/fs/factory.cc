// Registers the `fs` endpoint type.
#include "connectors/fs/endpoint.h"
#include "connectors/register.h"

namespace megasync::connectors {

void register_fs(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "fs";
  type.schema.description = "A directory tree on a local or mounted filesystem.";
  type.schema.options = {
      OptionSpec{.name = "path",
                 .type = OptionType::kString,
                 .description = "The directory; relative paths are relative to the config file.",
                 .required = true},
      OptionSpec{.name = "create",
                 .type = OptionType::kBool,
                 .description = "Create the directory when it does not exist.",
                 .default_value = "false"},
      OptionSpec{.name = "read_only",
                 .type = OptionType::kBool,
                 .description = "megasync never writes here; health checks test reads only.",
                 .default_value = "false"},
      OptionSpec{.name = "durability",
                 .type = OptionType::kString,
                 .description = "When written files reach the disk: `run` (one syncfs at the "
                                "end of a run's transfers) or `object` (fsync of each file and "
                                "its directory).",
                 .default_value = "run",
                 .choices = {"run", "object"}},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config& config) -> Result<std::shared_ptr<engine::Endpoint>> {
    fs::FsOptions options;
    options.root = config.resolve_path(endpoint.options.string("path"));
    options.create = endpoint.options.boolean("create");
    options.read_only = endpoint.options.boolean("read_only");
    options.durability = endpoint.options.string("durability") == "object" ? fs::Durability::kObject
                                                                           : fs::Durability::kRun;
    return std::make_shared<fs::FsEndpoint>(std::move(options));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
