// The object sync job (kinds `storage`, `deploy`, `ml`): makes one target
// store hold the same objects as a source store.
//
// A cycle lists both sides, plans (plan.h), refuses a plan deleting too much of
// the target, logs it (and stops there in a dry run), executes it `transfers`
// at a time (executor.h), then re-lists the target to check what it did.
//
// Created by the kind's factory with the two endpoints' stores; run() and
// verify() are called on the job's thread, describe() from API threads.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "core/object_store.h"
#include "engine/job.h"
#include "sync/objects/executor.h"
#include "sync/objects/plan.h"

namespace megasync::sync::objects {

struct ObjectSyncOptions {
  std::string source_name;
  std::string target_name;
  PlanOptions plan;
  int keep_versions = 0;
  int transfers = 4;
};

class ObjectSyncJob : public engine::Job {
 public:
  ObjectSyncJob(ObjectSyncOptions options, std::shared_ptr<ObjectStore> source,
                std::shared_ptr<ObjectStore> target)
      : options_(std::move(options)), source_(std::move(source)), target_(std::move(target)) {}

  Status run(engine::RunContext& ctx) override;
  // {"equal": bool, "targets": {"<target>": {"missing", "extra", "differ"}}};
  // extra objects make it unequal only with `delete`. With `repair`, syncs
  // the differences and adds "repaired": {plan summary}.
  Result<nlohmann::json> verify(engine::RunContext& ctx, bool repair) override;
  // {"source", "target", "last_plan": {...}, "vanished": n}
  nlohmann::json describe() const override;

 private:
  struct Listings {
    ObjectMap source;
    ObjectMap target;
  };
  Result<Listings> list_both(engine::RunContext& ctx);
  // Lists one store (ObjectStore::list_quick), filtered. Partial entries are
  // completed from the job's object index in the state store when their ETag
  // and size still match, else with a stat() each (several at a time), whose
  // answers go into the index; index entries no longer listed are dropped.
  Result<ObjectMap> list_store(ObjectStore& store, const std::string& endpoint,
                               engine::RunContext& ctx);
  Result<ObjectMap> complete_partial(ObjectStore& store, ObjectMap& objects,
                                     const std::vector<std::string>& partial,
                                     const std::string& endpoint, engine::RunContext& ctx);
  // Notes what the executor wrote and deleted in the target's object index.
  Status remember_applied(const ExecuteResult& result, engine::RunContext& ctx);
  // Checksum mode: fills sha256 of the pairs whose sizes match, by reading them.
  Status add_digests(Listings& listings, engine::RunContext& ctx);
  // Checks the delete limit, logs the plan, executes and checks it (not in a dry run).
  Status apply(const Plan& plan, engine::RunContext& ctx);
  void log_plan(const Plan& plan, const engine::RunContext& ctx) const;

  const ObjectSyncOptions options_;
  const std::shared_ptr<ObjectStore> source_;
  const std::shared_ptr<ObjectStore> target_;

  mutable std::mutex mutex_;  // guards the figures describe() reads
  nlohmann::json last_plan_;
  std::int64_t vanished_total_ = 0;
};

}  // namespace megasync::sync::objects
