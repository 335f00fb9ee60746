// The object sync job kinds: `storage`, `deploy` and `ml` are presets (default
// interval, variables) over one engine and one set of options.
#include "sync/objects/object_sync_job.h"
#include "sync/objects/register.h"

namespace megasync::sync::objects {
namespace {

std::vector<config::OptionSpec> object_sync_options() {
  using config::OptionSpec;
  using config::OptionType;
  return {
      OptionSpec{.name = "source",
                 .type = OptionType::kEndpoint,
                 .description = "The endpoint to copy from (an object store: fs, ...).",
                 .required = true},
      OptionSpec{.name = "target",
                 .type = OptionType::kEndpoint,
                 .description = "The endpoint made to hold the same objects as the source.",
                 .required = true},
      OptionSpec{.name = "include",
                 .type = OptionType::kStringList,
                 .description = "Globs of relative paths to sync (all when unset); `*` stops "
                                "at '/', `**` crosses directories: \"**/*.csv\"."},
      OptionSpec{.name = "exclude",
                 .type = OptionType::kStringList,
                 .description = "Globs of relative paths never synced nor deleted."},
      OptionSpec{.name = "delete",
                 .type = OptionType::kBool,
                 .description = "Delete target objects the source does not have.",
                 .default_value = "false"},
      OptionSpec{.name = "max_delete",
                 .type = OptionType::kString,
                 .description = "Refuse a cycle that would delete more than this share of "
                                "the target's objects (guards against an empty or wrong source).",
                 .default_value = "50%"},
      OptionSpec{.name = "force",
                 .type = OptionType::kBool,
                 .description = "Delete even beyond max_delete.",
                 .default_value = "false"},
      OptionSpec{.name = "keep_versions",
                 .type = OptionType::kInt,
                 .description = "Keep this many old versions of each replaced or deleted object "
                                "(fs: under .megasync-versions/); 0 keeps none.",
                 .default_value = "0",
                 .min = 0,
                 .max = 1000},
      OptionSpec{.name = "checksum",
                 .type = OptionType::kBool,
                 .description = "Compare objects of equal size by SHA-256 (reads both sides) "
                                "instead of by modification time.",
                 .default_value = "false"},
      OptionSpec{.name = "transfers",
                 .type = OptionType::kInt,
                 .description = "How many objects are copied at once.",
                 .default_value = "4",
                 .min = 1,
                 .max = 64},
  };
}

Result<std::shared_ptr<ObjectStore>> store_of(const config::JobConfig& job,
                                              const engine::BuildContext& build,
                                              const std::string& option) {
  const std::string name = job.options.string(option);
  auto it = build.endpoints.find(name);
  if (it == build.endpoints.end() || !it->second) {
    return make_error(ErrorCode::kInvalidConfig, "job {}: {}: unknown endpoint {}", job.name,
                      option, name);
  }
  return with_context(it->second->object_store(),
                      fmt::format("job {}: {} {}", job.name, option, name));
}

Result<std::unique_ptr<engine::Job>> create(const config::JobConfig& job,
                                            const engine::BuildContext& build) {
  ObjectSyncOptions options;
  options.source_name = job.options.string("source");
  options.target_name = job.options.string("target");
  if (options.source_name == options.target_name) {
    return make_error(ErrorCode::kInvalidConfig, "job {}: source and target are both {}", job.name,
                      options.source_name);
  }
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  if (job.options.has("include")) {
    include = job.options.strings("include");
  }
  if (job.options.has("exclude")) {
    exclude = job.options.strings("exclude");
  }
  options.plan.filter = PathFilter(std::move(include), std::move(exclude));
  options.plan.delete_extra = job.options.boolean("delete");
  Result<int> max_delete = parse_percentage(job.options.string("max_delete"));
  if (!max_delete) {
    return fail(
        std::move(max_delete.error()).with_context(fmt::format("job {}: max_delete", job.name)));
  }
  options.plan.max_delete_percent = *max_delete;
  options.plan.force = job.options.boolean("force");
  options.plan.checksum = job.options.boolean("checksum");
  options.keep_versions = static_cast<int>(job.options.integer("keep_versions"));
  options.transfers = static_cast<int>(job.options.integer("transfers"));

  Result<std::shared_ptr<ObjectStore>> source = store_of(job, build, "source");
  if (!source) {
    return fail(source.error());
  }
  Result<std::shared_ptr<ObjectStore>> target = store_of(job, build, "target");
  if (!target) {
    return fail(target.error());
  }
  return std::make_unique<ObjectSyncJob>(std::move(options), std::move(*source),
                                         std::move(*target));
}

struct Preset {
  const char* name;
  const char* description;
  Duration interval;
  const char* suffix;  // of the SYNC_INTERVAL_ / BATCH_SIZE_ / TIMEOUT_ variables
};

}  // namespace

void register_object_sync(engine::Registry& registry) {
  const Preset presets[] = {
      {"storage", "Mirrors files or objects from one store to another.", std::chrono::seconds(30),
       "STORAGE"},
      {"deploy", "Publishes build output to a bucket or folder (cloud deploy).",
       std::chrono::seconds(60), "CLOUD"},
      {"ml", "Syncs model artefacts and datasets between stores.", std::chrono::seconds(45), "ML"},
  };
  for (const Preset& preset : presets) {
    engine::JobKind kind;
    kind.name = preset.name;
    kind.engine = "objects";
    kind.schema.description = preset.description;
    kind.schema.default_interval = preset.interval;
    kind.schema.interval_variable = fmt::format("SYNC_INTERVAL_{}", preset.suffix);
    kind.schema.default_batch_size = 100;
    kind.schema.batch_size_variable = fmt::format("BATCH_SIZE_{}", preset.suffix);
    // A large first sync takes long; TIMEOUT_<KIND> shortens it.
    kind.schema.default_timeout = std::chrono::minutes(10);
    kind.schema.timeout_variable = fmt::format("TIMEOUT_{}", preset.suffix);
    kind.schema.options = object_sync_options();
    kind.create = create;
    registry.add_job_kind(std::move(kind));
  }
}

}  // namespace megasync::sync::objects
