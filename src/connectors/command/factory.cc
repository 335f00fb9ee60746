// Registers the `command` job kind.
#include "connectors/command/command_job.h"
#include "connectors/register.h"

namespace megasync::connectors {

void register_command(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::JobKind kind;
  kind.name = "command";
  kind.engine = "builtin";
  kind.schema.description =
      "Runs an external command on a schedule, with retries, run history, events and metrics.";
  kind.schema.default_interval = std::chrono::seconds(60);
  kind.schema.default_timeout = std::chrono::minutes(10);
  kind.schema.options = {
      OptionSpec{.name = "command",
                 .type = OptionType::kStringList,
                 .description = "The program and its arguments, e.g. [pg_dump, -f, out.sql]; the "
                                "program is looked up in PATH. No shell is involved: write "
                                "[sh, -c, '...'] for one.",
                 .required = true},
      OptionSpec{.name = "workdir",
                 .type = OptionType::kString,
                 .description = "Working directory; relative to the config file. Default: the "
                                "config file's directory."},
      OptionSpec{.name = "env",
                 .type = OptionType::kAny,
                 .description = "Extra environment variables, a mapping of NAME: value."},
  };
  kind.create = [](const config::JobConfig& job,
                   const engine::BuildContext& build) -> Result<std::unique_ptr<engine::Job>> {
    command::CommandOptions options;
    options.argv = job.options.strings("command");
    if (options.argv.empty() || options.argv[0].empty()) {
      return make_error(ErrorCode::kInvalidConfig, "job {}: command must name a program", job.name);
    }
    options.workdir = build.config->resolve_path(
        job.options.has("workdir") ? job.options.string("workdir") : std::string("."));
    if (job.options.has("env")) {
      const YAML::Node env = job.options.node("env");
      if (!env.IsMap()) {
        return make_error(ErrorCode::kInvalidConfig, "job {}: env must be a mapping of NAME: value",
                          job.name);
      }
      for (const auto& entry : env) {
        if (!entry.second.IsScalar()) {
          return make_error(ErrorCode::kInvalidConfig, "job {}: env.{} must be a string", job.name,
                            entry.first.as<std::string>());
        }
        options.env[entry.first.as<std::string>()] = entry.second.as<std::string>();
      }
    }
    return std::make_unique<command::CommandJob>(std::move(options));
  };
  registry.add_job_kind(std::move(kind));
}

}  // namespace megasync::connectors
