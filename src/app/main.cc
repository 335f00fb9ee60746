// megasync: keeps a fleet of infrastructure endpoints in sync from one YAML file.
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "app/commands.h"

int main(int argc, char** argv) {
  using namespace megasync::app;
  CLI::App app{
      "megasync: keeps databases, object stores, caches, queues and more in sync, "
      "as declared in one YAML file."};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  app.set_version_flag("--version", [] {
    command_version();
    return std::string();
  });
  GlobalOptions global;
  app.add_option("--log-level", global.log_level,
                 "trace, debug, info, warn, error, critical or off (default: daemon.log_level, "
                 "else LOG_LEVEL, else info)");
  app.add_option("--log-format", global.log_format, "text or json (default: daemon.log_format)");

  std::string config_path = "megasync.yaml";
  auto* run = app.add_subcommand("run", "Run the daemon in the foreground.");
  run->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  bool drop_slots = false;
  run->add_flag("--drop-slots", drop_slots,
                "Drop the replication slots of jobs removed from the configuration (without it "
                "they are only reported)");

  auto* check = app.add_subcommand("check", "Validate a configuration and exit (0 valid, 2 not).");
  check->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();

  std::string job;
  bool dry_run = false;
  auto* sync = app.add_subcommand("sync", "Run one job once in the foreground and exit.");
  sync->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  sync->add_option("job", job, "The job to run")->required();
  sync->add_flag("--dry-run", dry_run, "Plan and print what would change; change nothing");

  bool json = false;
  bool repair = false;
  auto* verify = app.add_subcommand(
      "verify", "Compare a job's targets with its source; exit 0 when equal, 1 when not.");
  verify->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  verify->add_option("job", job, "The job to verify")->required();
  verify->add_flag("--repair", repair, "Re-sync only what differs, then compare again");
  verify->add_flag("--json", json, "Print the differences as JSON");

  DlqOptions dlq_options;
  auto* dlq = app.add_subcommand(
      "dlq", "Inspect, replay and drop a record job's dead letters (kept in the state store).");
  dlq->require_subcommand(1);
  struct DlqAction {
    const char* name;
    const char* description;
  };
  const DlqAction actions[] = {
      {"list", "List the dead letters: id, time, target, collection, key, attempts, error."},
      {"show", "Show one dead letter whole: fields (text, or hex when binary) and headers."},
      {"replay", "Apply dead letters to the targets that refused them; applied ones are removed."},
      {"drop", "Remove dead letters without applying them."},
  };
  for (const DlqAction& action : actions) {
    auto* sub = dlq->add_subcommand(action.name, action.description);
    sub->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
    sub->add_option("job", dlq_options.job, "The job")->required();
    if (std::string(action.name) == "list") {
      sub->add_option("--limit", dlq_options.limit, "At most this many (oldest first)")
          ->capture_default_str();
      sub->add_option("--offset", dlq_options.offset, "Skip this many");
    } else {
      sub->add_option("ids", dlq_options.ids, "Dead letter ids, from `megasync dlq list`");
    }
    if (std::string(action.name) == "replay" || std::string(action.name) == "drop") {
      sub->add_flag("--all", dlq_options.all, "Every dead letter of the job");
    }
  }

  auto* jobs = app.add_subcommand("jobs", "List the jobs a configuration declares.");
  jobs->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  jobs->add_flag("--json", json, "Print JSON");

  std::string api_url;
  std::string token;
  std::string status_config;
  auto* status = app.add_subcommand("status", "Show a running daemon's status.");
  status->add_option("--api", api_url,
                     "The daemon's API, e.g. http://127.0.0.1:7171 (default: api.listen of -c, "
                     "else http://127.0.0.1:7171)");
  status->add_option("-c,--config", status_config, "Read api.listen from this configuration");
  status->add_option("--token", token, "Bearer token (default: $MEGASYNC_API_TOKEN)");
  status->add_flag("--json", json, "Print the status document as JSON");

  app.add_subcommand("version", "Print the version and exit.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitInvalid;
  }

  if (*run)
    return command_run(global, config_path, {.drop_slots = drop_slots});
  if (*check)
    return command_check(global, config_path);
  if (*sync)
    return command_sync(global, config_path, job, dry_run);
  if (*verify)
    return command_verify(global, config_path, job, repair, json);
  if (*dlq) {
    for (const CLI::App* action : dlq->get_subcommands()) {
      dlq_options.action = action->get_name();
    }
    return command_dlq(global, config_path, dlq_options);
  }
  if (*jobs)
    return command_jobs(global, config_path, json);
  if (*status) {
    if (token.empty()) {
      if (const char* env = std::getenv("MEGASYNC_API_TOKEN"); env != nullptr) {
        token = env;
      }
    }
    return command_status(api_url, status_config, token, json);
  }
  return command_version();
}
