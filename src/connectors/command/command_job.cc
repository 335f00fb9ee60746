#include "connectors/command/command_job.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace megasync::connectors::command {
namespace {

constexpr std::size_t kTailBytes = 2048;
constexpr std::chrono::milliseconds kKillAfter{2000};
constexpr int kExitTempFail = 75;  // sysexits.h EX_TEMPFAIL

std::string describe_status(int status) {
  if (WIFEXITED(status)) {
    return fmt::format("exit status {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return "ended abnormally";
}

}  // namespace

void OutputTail::append(std::string_view data) {
  total_ += data.size();
  buffer_.append(data);
  if (buffer_.size() > limit_ * 2) {
    buffer_.erase(0, buffer_.size() - limit_);
  }
}

std::string OutputTail::text() const {
  std::string_view view(buffer_);
  if (view.size() > limit_ || total_ > buffer_.size()) {
    if (view.size() > limit_) {
      view.remove_prefix(view.size() - limit_);
    }
    // The start was cut: drop the partial first line.
    const std::size_t newline = view.find('\n');
    if (newline != std::string_view::npos && newline + 1 < view.size()) {
      view.remove_prefix(newline + 1);
    }
  }
  while (!view.empty() && (view.back() == '\n' || view.back() == '\r')) {
    view.remove_suffix(1);
  }
  return std::string(view);
}

Status CommandJob::run(engine::RunContext& ctx) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return make_error(ErrorCode::kRetryable, "cannot create a pipe: {}", std::strerror(errno));
  }
  // Build argv/envp before fork: only async-signal-safe calls after it.
  std::vector<char*> argv;
  for (const std::string& arg : options_.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    env_strings.emplace_back(*e);
  }
  for (const auto& [key, value] : options_.env) {
    env_strings.push_back(key + "=" + value);
  }
  env_strings.push_back("MEGASYNC_JOB=" + ctx.job);
  env_strings.push_back("MEGASYNC_TRIGGER=" + ctx.trigger);
  env_strings.push_back(std::string("MEGASYNC_DRY_RUN=") + (ctx.dry_run ? "1" : "0"));
  std::vector<char*> envp;
  for (std::string& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return make_error(ErrorCode::kRetryable, "cannot start {}: {}", options_.argv[0],
                      std::strerror(errno));
  }
  if (pid == 0) {
    // The daemon blocks SIGTERM/SIGINT/SIGHUP (it takes them with sigwait) and
    // ignores SIGPIPE; a command must start with the defaults, or SIGTERM on
    // cancellation would not reach it.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::setpgid(0, 0);  // its own group, so cancellation reaches its children too
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
    }
    if (!options_.workdir.empty() && ::chdir(options_.workdir.c_str()) != 0) {
      const char message[] = "megasync: cannot change to the job's workdir\n";
      (void)!::write(STDERR_FILENO, message, sizeof message - 1);
      ::_exit(127);
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    const char message[] = "megasync: cannot execute the job's command\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(pipe_fds[1]);
  ctx.progress->set_phase("running " + options_.argv[0]);

  OutputTail tail(kTailBytes);
  bool cancelled = false;
  std::optional<SteadyTime> kill_at;
  char buffer[4096];
  bool open = true;
  int status = 0;
  bool exited = false;
  while (!exited) {
    if (!cancelled && (ctx.cancel.cancelled() || ctx.deadline.expired())) {
      cancelled = true;
      ::kill(-pid, SIGTERM);
      kill_at = SteadyClock::now() + kKillAfter;
    }
    if (kill_at && SteadyClock::now() >= *kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at.reset();
    }
    if (open) {
      pollfd pfd{pipe_fds[0], POLLIN, 0};
      const int ready = ::poll(&pfd, 1, 100);
      if (ready > 0) {
        const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
        if (n > 0) {
          tail.append(std::string_view(buffer, static_cast<std::size_t>(n)));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          open = false;
        }
      }
    } else {
      // Output closed but the process lives on (it closed stdout, or a child kept
      // it): wait for it without spinning.
      pollfd none{-1, 0, 0};
      ::poll(&none, 0, 100);
    }
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      exited = true;
    }
  }
  // Drain what is left in the pipe without blocking.
  ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) {
    tail.append(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
  ::close(pipe_fds[0]);
  ::kill(-pid, SIGKILL);  // any child left behind in its group

  const std::string output = tail.text();
  if (!output.empty()) {
    spdlog::debug("job {}: command output:\n{}", ctx.job, output);
  }
  if (cancelled) {
    return make_error(ErrorCode::kCancelled, "command {} stopped ({})", options_.argv[0],
                      describe_status(status));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return ok();
  }
  const ErrorCode code = WIFEXITED(status) && WEXITSTATUS(status) == kExitTempFail
                             ? ErrorCode::kRetryable
                             : ErrorCode::kPermanent;
  return make_error(code, "command {} failed with {}{}{}", options_.argv[0],
                    describe_status(status), output.empty() ? "" : "; output ends with: ", output);
}

}  // namespace megasync::connectors::command
