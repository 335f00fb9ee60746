// The CLI's subcommands. Each returns the process exit code (docs/operations.md):
//   0 success · 1 the operation ran and failed (a sync failed) · 2 invalid
//   configuration or usage · 3 the daemon's API could not be reached or refused
//   the request · 4 the daemon could not start (state store, listen address).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/daemon.h"

namespace megasync::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitInvalid = 2;
inline constexpr int kExitUnreachable = 3;
inline constexpr int kExitStartFailed = 4;

struct GlobalOptions {
  std::string log_level;   // empty: from the config / LOG_LEVEL
  std::string log_format;  // empty: from the config
};

int command_run(const GlobalOptions& global, const std::string& config_path,
                engine::DaemonOptions options);
int command_check(const GlobalOptions& global, const std::string& config_path);
int command_sync(const GlobalOptions& global, const std::string& config_path,
                 const std::string& job, bool dry_run);
int command_verify(const GlobalOptions& global, const std::string& config_path,
                   const std::string& job, bool repair, bool json);
// `megasync dlq ACTION JOB [ID...] [--all]`: action list, show, replay or drop.
struct DlqOptions {
  std::string action;
  std::string job;
  std::vector<std::string> ids;  // as given; parsed by the command
  bool all = false;
  int limit = 100;  // list
  std::int64_t offset = 0;
};
int command_dlq(const GlobalOptions& global, const std::string& config_path,
                const DlqOptions& options);
int command_jobs(const GlobalOptions& global, const std::string& config_path, bool json);
int command_status(const std::string& api_url, const std::string& config_path,
                   const std::string& token, bool json);
int command_version();

}  // namespace megasync::app
