// Carries out a plan: copies (source.read -> bounded pipe -> target.write),
// replacements and deletions, `transfers` at a time, keeping versions first
// when asked. A source object that vanished since the listing is skipped and
// counted, not a failure; other failures do not stop the remaining transfers,
// and the first is returned once all have run.
//
// Called from the job's thread; uses its own transfer threads, joined before
// it returns.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/object_store.h"
#include "engine/job.h"
#include "sync/objects/plan.h"

namespace megasync::sync::objects {

struct ExecuteOptions {
  std::string target_name;  // for progress figures
  int transfers = 4;
  int keep_versions = 0;
};

struct ExecuteResult {
  std::map<std::string, ObjectInfo> written;  // what each copy stored, by path
  std::vector<std::string> deleted;
  std::vector<std::string> vanished;  // source objects gone before they were read
  std::uint64_t bytes = 0;
  std::int64_t server_side = 0;  // copies made inside the store (ObjectStore::copy_from)
};

Result<ExecuteResult> execute(const Plan& plan, ObjectStore& source, ObjectStore& target,
                              const ExecuteOptions& options, engine::RunContext& ctx);

// Re-lists the target and checks that each copy is there with the size (and
// digest, when both are known) it was written with and each deletion is gone.
// kRetryable naming the first mismatches otherwise.
Status check_applied(const ExecuteResult& result, ObjectStore& target);

}  // namespace megasync::sync::objects
