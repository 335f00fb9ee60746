// `megasync run`: the daemon in the foreground, driven by signals.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

#include "app/common.h"
#include "config/loader.h"
#include "core/redact.h"
#include "engine/daemon.h"

namespace megasync::app {
namespace {

// Reloads the configuration on SIGHUP. An invalid new file is rejected with
// every error logged, and the running configuration stays in force.
void reload(engine::Daemon& daemon, const std::string& path) {
  spdlog::info("SIGHUP: reloading {}", path);
  config::LoadResult result = config::load(path, registry().schema());
  if (!result.ok()) {
    for (const config::ConfigError& error : result.errors) {
      spdlog::error("reload rejected: {}", error.format());
    }
    daemon.reload_rejected(fmt::format("{} error(s) in {}", result.errors.size(), path));
    spdlog::error("reload rejected: {} error(s); the previous configuration stays in force",
                  result.errors.size());
    return;
  }
  Status applied = daemon.reload(result.config);
  if (!applied) {
    daemon.reload_rejected(applied.error().message());
    spdlog::error("reload rejected: {}; the previous configuration stays in force",
                  applied.error().message());
  }
}

}  // namespace

int command_run(const GlobalOptions& global, const std::string& config_path,
                engine::DaemonOptions options) {
  // Signals are taken synchronously on this thread: block them before any other
  // thread exists so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::shared_ptr<const config::Config> config = load_config(config_path);
  if (!config) {
    return kExitInvalid;
  }
  if (!setup_logging_for(global, config.get())) {
    return kExitInvalid;
  }
  engine::Daemon daemon(registry(), config, options);
  Status started = daemon.start();
  if (!started) {
    spdlog::critical("cannot start: {}", started.error().message());
    daemon.stop();
    return started.error().code() == ErrorCode::kInvalidConfig ? kExitInvalid : kExitStartFailed;
  }
  if (config->api.enabled) {
    const std::string host = config->api.listen.substr(0, config->api.listen.rfind(':'));
    spdlog::info("API listening on http://{}:{} (status: /api/v1/status, metrics: /metrics)", host,
                 daemon.api_port());
  }
  for (;;) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) {
      continue;
    }
    if (signal_number == SIGHUP) {
      reload(daemon, config_path);
      continue;
    }
    spdlog::info("{}: shutting down", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  daemon.stop();
  if (daemon.abandoned_runs() > 0) {
    // Threads of abandoned runs may still touch the daemon's objects: exit without
    // running destructors. Everything that matters is already durable.
    spdlog::warn("{} abandoned run(s) still hold a thread; exiting without waiting for them",
                 daemon.abandoned_runs());
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    ::_exit(kExitOk);
  }
  return kExitOk;
}

}  // namespace megasync::app
