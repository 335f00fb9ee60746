#include "sync/objects/object_sync_job.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "state/state_store.h"
#include "sync/objects/executor.h"
#include "sync/objects/hash.h"
#include "sync/objects/pool.h"

namespace megasync::sync::objects {
namespace {

// A dry run logs each planned action up to this many, then a count.
constexpr std::size_t kLoggedActions = 1000;

std::string dry_run_phase(const Plan& plan) {
  return fmt::format("dry run: {} to copy, {} to replace, {} to delete, {} bytes", plan.copies,
                     plan.replacements, plan.deletions, plan.bytes);
}

}  // namespace

Result<ObjectMap> ObjectSyncJob::list_store(ObjectStore& store, const std::string& endpoint,
                                            engine::RunContext& ctx) {
  ObjectMap objects;
  std::vector<std::string> partial;
  Status status = store.list_quick("", [&](const ObjectInfo& info) -> Status {
    if (ctx.cancel.cancelled()) {
      return make_error(ErrorCode::kCancelled, "listing cancelled");
    }
    // Filtering here keeps excluded trees out of memory.
    if (options_.plan.filter.accepts(info.path)) {
      if (info.partial) {
        partial.push_back(info.path);
      }
      objects.emplace(info.path, info);
    }
    return ok();
  });
  if (!status) {
    return fail(status.error());
  }
  if (partial.empty() || ctx.store == nullptr) {
    return complete_partial(store, objects, partial, endpoint, ctx);
  }
  // Complete what the index remembers with the same ETag and size; forget
  // what is no longer listed.
  Result<std::vector<state::ObjectIndexEntry>> index =
      ctx.store->load_object_index(ctx.job, endpoint);
  if (!index) {
    return fail(std::move(index.error()).with_context("load the object index"));
  }
  std::vector<std::string> gone;
  for (state::ObjectIndexEntry& entry : *index) {
    auto it = objects.find(entry.path);
    if (it == objects.end()) {
      gone.push_back(std::move(entry.path));
      continue;
    }
    ObjectInfo& info = it->second;
    if (info.partial && info.etag == entry.etag && info.size == entry.size) {
      info.mtime = entry.mtime;
      info.sha256 = std::move(entry.sha256);
      info.partial = false;
    }
  }
  std::erase_if(partial, [&](const std::string& path) { return !objects.at(path).partial; });
  if (!gone.empty()) {
    if (Status forgot = ctx.store->update_object_index(ctx.job, endpoint, {}, gone); !forgot) {
      return fail(std::move(forgot.error()).with_context("update the object index"));
    }
  }
  return complete_partial(store, objects, partial, endpoint, ctx);
}

Result<ObjectMap> ObjectSyncJob::complete_partial(ObjectStore& store, ObjectMap& objects,
                                                  const std::vector<std::string>& partial,
                                                  const std::string& endpoint,
                                                  engine::RunContext& ctx) {
  if (partial.empty()) {
    return std::move(objects);
  }
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase(
        fmt::format("listing: reading the metadata of {} objects of {}", partial.size(), endpoint));
  }
  std::vector<std::optional<ObjectInfo>> stats(partial.size());
  std::mutex mutex;
  std::optional<Error> first_error;
  parallel_for(partial.size(), std::max(options_.transfers, 8), ctx.cancel, [&](std::size_t i) {
    Result<std::optional<ObjectInfo>> stat = store.stat(partial[i]);
    if (stat) {
      stats[i] = std::move(*stat);  // nullopt: deleted since the listing
      return;
    }
    std::lock_guard lock(mutex);
    if (!first_error) {
      first_error = std::move(stat.error()).with_context("stat " + partial[i]);
    }
  });
  if (ctx.cancel.cancelled()) {
    return make_error(ErrorCode::kCancelled, "listing cancelled");
  }
  if (first_error) {
    return fail(*first_error);
  }
  std::vector<state::ObjectIndexEntry> learned;
  for (std::size_t i = 0; i < partial.size(); ++i) {
    if (!stats[i]) {
      objects.erase(partial[i]);
      continue;
    }
    ObjectInfo& info = *stats[i];
    info.path = partial[i];
    if (!info.etag.empty()) {
      learned.push_back({info.path, info.etag, info.size, info.mtime, info.sha256});
    }
    objects[partial[i]] = std::move(info);
  }
  if (ctx.store != nullptr && !learned.empty()) {
    if (Status noted = ctx.store->update_object_index(ctx.job, endpoint, learned, {}); !noted) {
      return fail(std::move(noted.error()).with_context("update the object index"));
    }
  }
  return std::move(objects);
}

Status ObjectSyncJob::remember_applied(const ExecuteResult& result, engine::RunContext& ctx) {
  if (ctx.store == nullptr) {
    return ok();
  }
  std::vector<state::ObjectIndexEntry> written;
  for (const auto& [path, info] : result.written) {
    if (!info.etag.empty()) {
      written.push_back({path, info.etag, info.size, info.mtime, info.sha256});
    }
  }
  if (written.empty() && result.deleted.empty()) {
    return ok();
  }
  return ctx.store->update_object_index(ctx.job, options_.target_name, written, result.deleted);
}

Result<ObjectSyncJob::Listings> ObjectSyncJob::list_both(engine::RunContext& ctx) {
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase("listing");
  }
  Listings listings;
  Result<ObjectMap> source = list_store(*source_, options_.source_name, ctx);
  if (!source) {
    return fail(std::move(source.error()).with_context("source " + options_.source_name));
  }
  Result<ObjectMap> target = list_store(*target_, options_.target_name, ctx);
  if (!target) {
    return fail(std::move(target.error()).with_context("target " + options_.target_name));
  }
  listings.source = std::move(*source);
  listings.target = std::move(*target);
  if (Status digests = add_digests(listings, ctx); !digests) {
    return fail(digests.error());
  }
  return listings;
}

Status ObjectSyncJob::add_digests(Listings& listings, engine::RunContext& ctx) {
  const std::vector<std::string> paths =
      paths_needing_digest(listings.source, listings.target, options_.plan);
  if (paths.empty()) {
    return ok();
  }
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase(fmt::format("checksumming {} objects", paths.size()));
  }
  std::mutex mutex;
  std::optional<Error> first_error;
  auto digest = [&](ObjectStore& store, ObjectInfo& info) {
    if (!info.sha256.empty()) {
      return;
    }
    Sha256Sink sink;
    Status read = store.read(info.path, sink);
    if (read) {
      info.sha256 = sink.hex_digest();  // each thread writes its own entry
    } else if (read.error().code() != ErrorCode::kNotFound) {
      // A vanished object keeps an empty digest: it is planned as changed and
      // then skipped as vanished.
      std::lock_guard lock(mutex);
      if (!first_error) {
        first_error = std::move(read.error()).with_context("checksum " + info.path);
      }
    }
  };
  parallel_for(paths.size(), options_.transfers, ctx.cancel, [&](std::size_t i) {
    digest(*source_, listings.source.at(paths[i]));
    digest(*target_, listings.target.at(paths[i]));
  });
  if (ctx.cancel.cancelled()) {
    return make_error(ErrorCode::kCancelled, "checksumming cancelled");
  }
  if (first_error) {
    return fail(*first_error);
  }
  return ok();
}

void ObjectSyncJob::log_plan(const Plan& plan, const engine::RunContext& ctx) const {
  spdlog::info(
      "job {}: plan for {} -> {}: {} to copy, {} to replace, {} to delete, {} bytes, "
      "{} unchanged{}",
      ctx.job, options_.source_name, options_.target_name, plan.copies, plan.replacements,
      plan.deletions, plan.bytes, plan.unchanged,
      ctx.dry_run ? " (dry run: nothing is changed)" : "");
  if (!ctx.dry_run) {
    return;
  }
  for (std::size_t i = 0; i < plan.actions.size() && i < kLoggedActions; ++i) {
    const Action& action = plan.actions[i];
    spdlog::info("job {}: would {} {}{}", ctx.job, to_string(action.kind), action.path,
                 action.kind == ActionKind::kDelete
                     ? std::string()
                     : fmt::format(" ({} bytes)", action.source.size));
  }
  if (plan.actions.size() > kLoggedActions) {
    spdlog::info("job {}: ... and {} more", ctx.job, plan.actions.size() - kLoggedActions);
  }
}

Status ObjectSyncJob::apply(const Plan& plan, engine::RunContext& ctx) {
  {
    std::lock_guard lock(mutex_);
    last_plan_ = summarize(plan);
    last_plan_["dry_run"] = ctx.dry_run;
  }
  log_plan(plan, ctx);
  if (Status limit = check_delete_limit(plan, options_.plan); !limit) {
    return fail(std::move(limit.error()).with_context("target " + options_.target_name));
  }
  if (ctx.dry_run) {
    if (ctx.progress != nullptr) {
      ctx.progress->set_phase(dry_run_phase(plan));
    }
    return ok();
  }
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase("transferring");
    ctx.progress->set_total(static_cast<std::int64_t>(plan.actions.size()),
                            static_cast<std::int64_t>(plan.bytes));
  }
  ExecuteOptions execute_options{options_.target_name, options_.transfers, options_.keep_versions};
  Result<ExecuteResult> result = execute(plan, *source_, *target_, execute_options, ctx);
  // What the transfers changed reaches the disk before the run counts it
  // done, failed transfers or not (one syncfs on a local store, not an fsync
  // per file; nothing on a remote one).
  Status flushed = plan.actions.empty() ? ok() : target_->flush();
  if (!result) {
    return fail(std::move(result.error()).with_context("target " + options_.target_name));
  }
  if (!flushed) {
    return fail(std::move(flushed.error()).with_context("target " + options_.target_name));
  }
  {
    std::lock_guard lock(mutex_);
    vanished_total_ += static_cast<std::int64_t>(result->vanished.size());
  }
  if (result->server_side > 0) {
    spdlog::info("job {}: {} of {} copies made inside the service (server-side copy)", ctx.job,
                 result->server_side, result->written.size());
  }
  if (Status remembered = remember_applied(*result, ctx); !remembered) {
    return fail(std::move(remembered.error()).with_context("update the object index"));
  }
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase("verifying");
  }
  if (Status applied = check_applied(*result, *target_); !applied) {
    return fail(std::move(applied.error()).with_context("target " + options_.target_name));
  }
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase(
        result->vanished.empty()
            ? std::string("done")
            : fmt::format("done; {} vanished from the source", result->vanished.size()));
  }
  return ok();
}

Status ObjectSyncJob::run(engine::RunContext& ctx) {
  Result<Listings> listings = list_both(ctx);
  if (!listings) {
    return fail(listings.error());
  }
  const Plan plan = build_plan(listings->source, listings->target, options_.plan);
  return apply(plan, ctx);
}

Result<nlohmann::json> ObjectSyncJob::verify(engine::RunContext& ctx, bool repair) {
  Result<Listings> listings = list_both(ctx);
  if (!listings) {
    return fail(listings.error());
  }
  const Differences diff = compare(listings->source, listings->target, options_.plan);
  const bool equal = diff.missing.empty() && diff.differ.empty() &&
                     (!options_.plan.delete_extra || diff.extra.empty());
  nlohmann::json doc = {
      {"equal", equal},
      {"targets",
       {{options_.target_name,
         {{"missing", diff.missing}, {"extra", diff.extra}, {"differ", diff.differ}}}}}};
  if (repair && !equal) {
    // The plan of a full sync is exactly the differences: unchanged objects
    // produce no action.
    const Plan plan = build_plan(listings->source, listings->target, options_.plan);
    if (Status applied = apply(plan, ctx); !applied) {
      return fail(std::move(applied.error()).with_context("repair"));
    }
    doc["repaired"] = summarize(plan);
    doc["equal_after_repair"] = true;  // apply() checked every action it took
  }
  return doc;
}

nlohmann::json ObjectSyncJob::describe() const {
  std::lock_guard lock(mutex_);
  nlohmann::json doc = {{"source", options_.source_name},
                        {"target", options_.target_name},
                        {"vanished", vanished_total_}};
  if (!last_plan_.is_null()) {
    doc["last_plan"] = last_plan_;
  }
  return doc;
}

}  // namespace megasync::sync::objects
