// The `command` job kind: runs an external command on the job's schedule, under
// the run's deadline. For the housekeeping an operator would otherwise put in
// cron beside megasync (a vacuum, an export, a cache warm-up), with megasync's
// scheduling, retries, run history, events and metrics.
//
// Exit status 0 is success; 75 (EX_TEMPFAIL) is a retryable failure; any other
// status is a permanent failure whose message carries the end of the output.
// On cancellation (deadline, shutdown) the command's process group receives
// SIGTERM, then SIGKILL two seconds later.
//
// Created by the registry per job; run() is called on one thread at a time.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/job.h"

namespace megasync::connectors::command {

struct CommandOptions {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH
  std::string workdir;                     // absolute; empty: the config file's directory
  std::map<std::string, std::string> env;  // added to the daemon's environment
};

class CommandJob : public engine::Job {
 public:
  explicit CommandJob(CommandOptions options) : options_(std::move(options)) {}
  Status run(engine::RunContext& ctx) override;

 private:
  CommandOptions options_;
};

// Keeps the last `limit` bytes of a stream, on a line boundary where possible.
class OutputTail {
 public:
  explicit OutputTail(std::size_t limit) : limit_(limit) {}
  void append(std::string_view data);
  std::string text() const;
  std::size_t total() const { return total_; }

 private:
  std::size_t limit_;
  std::size_t total_ = 0;
  std::string buffer_;
};

}  // namespace megasync::connectors::command
