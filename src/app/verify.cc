// `megasync verify JOB [--repair]`: compares a job's targets with its source
// and prints the differences; exits 0 when equal (or repaired), 1 otherwise.
#include <fmt/format.h>

#include <cstdio>

#include "app/common.h"
#include "engine/build.h"
#include "engine/job.h"

namespace megasync::app {
namespace {

void print_list(const char* what, const nlohmann::json& items, std::int64_t total) {
  if (total == 0) {
    return;
  }
  std::string shown;
  std::int64_t n = 0;
  for (const auto& item : items) {
    shown +=
        (shown.empty() ? "" : ", ") + (item.is_string() ? item.get<std::string>() : item.dump());
    ++n;
  }
  fmt::print("    {} ({}): {}{}\n", what, total, shown, total > n ? ", ..." : "");
}

// Records: per collection counts and keys. Objects: lists of paths.
void print_target(const std::string& job, const std::string& target, const nlohmann::json& doc) {
  if (doc.contains("collections")) {
    const bool equal = doc.value("equal", false);
    fmt::print("{}: target {}: {}\n", job, target, equal ? "equal" : "differs");
    for (const auto& [name, c] : doc["collections"].items()) {
      fmt::print("  {}: {} source rows, {} target rows{}\n", name,
                 c.value("source_rows", std::int64_t{0}), c.value("target_rows", std::int64_t{0}),
                 c.value("equal", false) ? "" : ": differs");
      fmt::print("    {} digests; rows read: {} source, {} target\n",
                 c.value("method", std::string("client")),
                 c.value("source_rows_read", std::int64_t{0}),
                 c.value("target_rows_read", std::int64_t{0}));
      print_list("missing", c["missing_keys"], c.value("missing", std::int64_t{0}));
      print_list("extra", c["extra_keys"], c.value("extra", std::int64_t{0}));
      print_list("differ", c["differ_keys"], c.value("differ", std::int64_t{0}));
    }
    if (doc.contains("repaired")) {
      fmt::print("  repaired: {} changes applied; {}\n", doc.value("repaired", std::int64_t{0}),
                 doc.value("equal_after_repair", false) ? "now equal" : "still differs");
    }
    return;
  }
  const auto count = [&](const char* key) {
    return doc.contains(key) ? static_cast<std::int64_t>(doc[key].size()) : 0;
  };
  const bool equal = count("missing") + count("extra") + count("differ") == 0;
  fmt::print("{}: target {}: {}\n", job, target, equal ? "equal" : "differs");
  for (const char* key : {"missing", "extra", "differ"}) {
    if (doc.contains(key)) {
      nlohmann::json first = nlohmann::json::array();
      for (std::size_t i = 0; i < doc[key].size() && i < 20; ++i) {
        first.push_back(doc[key][i]);
      }
      print_list(key, first, count(key));
    }
  }
}

}  // namespace

int command_verify(const GlobalOptions& global, const std::string& config_path,
                   const std::string& job_name, bool repair, bool json) {
  std::shared_ptr<const config::Config> config = load_config(config_path);
  if (!config || !setup_logging_for(global, config.get())) {
    return kExitInvalid;
  }
  const config::JobConfig* job = find_job(*config, job_name);
  if (job == nullptr) {
    return kExitInvalid;
  }
  auto endpoints = engine::build_endpoints(*config, registry(), nullptr, nullptr, job->endpoints);
  if (!endpoints) {
    fmt::print(stderr, "megasync: {}\n", endpoints.error().message());
    return kExitInvalid;
  }
  const engine::JobKind* kind = registry().job_kind(job->kind);
  Result<std::unique_ptr<engine::Job>> built =
      kind->create(*job, engine::build_context(*job, config, *endpoints));
  if (!built) {
    fmt::print(stderr, "{}: {}\n", job_name, built.error().message());
    return kExitInvalid;
  }
  engine::RunProgress progress;
  CancelSource cancel;
  engine::RunContext ctx;
  ctx.job = job_name;
  ctx.trigger = "cli";
  ctx.cancel = cancel.token();
  ctx.progress = &progress;
  Result<nlohmann::json> doc = (*built)->verify(ctx, repair);
  if (!doc) {
    fmt::print(stderr, "{}: verify failed: {}\n", job_name, doc.error().message());
    return kExitFailed;
  }
  const bool equal = doc->value("equal", false);
  const bool repaired = doc->value("equal_after_repair", false);
  if (json) {
    fmt::print("{}\n", doc->dump(2));
  } else if (doc->contains("note")) {
    fmt::print("{}\n", (*doc)["note"].get<std::string>());
  } else {
    for (const auto& [target, report] : (*doc)["targets"].items()) {
      print_target(job_name, target, report);
    }
    if (!equal) {
      fmt::print("{}: {}\n", job_name,
                 repaired ? "repaired: every target now equals the source"
                          : (repair ? "differences remain after the repair"
                                    : "differs; `megasync verify --repair` re-syncs only what "
                                      "differs"));
    }
  }
  return equal || repaired ? kExitOk : kExitFailed;
}

}  // namespace megasync::app
