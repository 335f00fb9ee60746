#include "connectors/command/command_job.h"

#include <gtest/gtest.h>

#include <thread>

#include "config/loader.h"
#include "connectors/register.h"

namespace megasync::connectors::command {
namespace {

Status run(std::vector<std::string> argv,
           Deadline deadline = Deadline::after(std::chrono::seconds(20))) {
  CommandJob job({std::move(argv), "", {}});
  engine::RunProgress progress;
  engine::RunContext ctx;
  ctx.job = "test";
  ctx.progress = &progress;
  ctx.deadline = deadline;
  return job.run(ctx);
}

TEST(CommandJob, ExitZeroSucceeds) {
  EXPECT_TRUE(run({"true"}));
}

TEST(CommandJob, TempFailIsRetryable) {
  Status status = run({"sh", "-c", "exit 75"});
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kRetryable);
}

TEST(CommandJob, OtherFailureIsPermanentAndCarriesTheOutput) {
  Status status =
      run({"sh", "-c", "echo first; echo 'relation orders does not exist' >&2; exit 3"});
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(status.error().message().find("exit status 3"), std::string::npos);
  EXPECT_NE(status.error().message().find("relation orders does not exist"), std::string::npos);
}

TEST(CommandJob, MissingProgramFails) {
  Status status = run({"megasync-no-such-program"});
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message().find("exit status 127"), std::string::npos);
}

TEST(CommandJob, DeadlineKillsTheProcessGroup) {
  const SteadyTime start = SteadyClock::now();
  // The child's own child (sleep) must die too, or the pipe would stay open.
  Status status =
      run({"sh", "-c", "sleep 30; echo done"}, Deadline::after(std::chrono::milliseconds(200)));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kCancelled);
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(10));
}

TEST(CommandJob, EnvironmentReachesTheCommand) {
  CommandJob job({{"sh", "-c", "test \"$GREETING\" = hello && test \"$MEGASYNC_JOB\" = envjob"},
                  "",
                  {{"GREETING", "hello"}}});
  engine::RunProgress progress;
  engine::RunContext ctx;
  ctx.job = "envjob";
  ctx.progress = &progress;
  EXPECT_TRUE(job.run(ctx));
}

TEST(OutputTail, KeepsTheEndOnALineBoundary) {
  OutputTail tail(10);
  tail.append("line one\nline two\nend\n");
  EXPECT_EQ(tail.text(), "end");
  EXPECT_EQ(tail.total(), 22u);
  OutputTail whole(100);
  whole.append("a\nb\n");
  EXPECT_EQ(whole.text(), "a\nb");
}

TEST(CommandConfig, ValidInvalidAndUnknownKeys) {
  engine::Registry registry;
  register_command(registry);
  const config::Schema schema = registry.schema();
  auto good = config::load_from_string(
      "jobs:\n  vacuum:\n    kind: command\n    command: [sqlite3, db, VACUUM]\n", "/tmp/x.yaml",
      schema, {});
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.config->jobs[0].options.strings("command").size(), 3u);
  EXPECT_EQ(good.config->jobs[0].interval, std::chrono::seconds(60));

  auto missing =
      config::load_from_string("jobs:\n  vacuum:\n    kind: command\n", "/tmp/x.yaml", schema, {});
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_NE(missing.errors[0].message.find("command"), std::string::npos);

  auto unknown = config::load_from_string(
      "jobs:\n  vacuum:\n    kind: command\n    command: [x]\n    workdri: /tmp\n", "/tmp/x.yaml",
      schema, {});
  ASSERT_EQ(unknown.errors.size(), 1u);
  EXPECT_NE(unknown.errors[0].message.find("workdir"), std::string::npos);
  EXPECT_EQ(unknown.errors[0].where.line, 5);
}

}  // namespace
}  // namespace megasync::connectors::command
