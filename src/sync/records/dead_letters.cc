// `megasync dlq replay`: the dead letters of a record job, applied again to
// the targets that refused them (README.md "Dead letters").
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "state/state_store.h"
#include "sync/records/record_sync_job.h"

namespace megasync::sync::records {
namespace {

// Enough for any replay: the store clamps a page to 10000 letters.
constexpr int kPage = 10'000;

}  // namespace

Result<nlohmann::json> RecordSyncJob::replay_dead_letters(engine::RunContext& ctx,
                                                          const std::vector<std::int64_t>& ids) {
  if (ctx.store == nullptr) {
    return make_error(ErrorCode::kPermanent, "job {}: no state store to replay from", options_.job);
  }
  nlohmann::json replayed = nlohmann::json::array();
  nlohmann::json failed = nlohmann::json::array();
  std::vector<state::DeadLetter> letters;
  if (ids.empty()) {
    for (std::int64_t offset = 0;; offset += kPage) {
      Result<std::vector<state::DeadLetter>> page =
          ctx.store->list_dead_letters({.job = options_.job, .limit = kPage, .offset = offset});
      if (!page) {
        return fail(page.error());
      }
      const bool last = page->size() < static_cast<std::size_t>(kPage);
      letters.insert(letters.end(), std::make_move_iterator(page->begin()),
                     std::make_move_iterator(page->end()));
      if (last) {
        break;
      }
    }
  }
  for (std::int64_t id : ids) {
    Result<std::optional<state::DeadLetter>> letter = ctx.store->get_dead_letter(options_.job, id);
    if (!letter) {
      return fail(letter.error());
    }
    if (!*letter) {
      failed.push_back({{"id", id},
                        {"target", ""},
                        {"error", fmt::format("job {} has no dead letter {}; `megasync dlq list "
                                              "{}` lists them",
                                              options_.job, id, options_.job)}});
      continue;
    }
    letters.push_back(std::move(**letter));
  }

  const Flow& flow = flows_.front();
  std::map<std::string, std::unique_ptr<RecordSink>> sinks;
  std::map<std::string, std::map<std::string, bool>> prepared;  // target → collection
  for (const state::DeadLetter& letter : letters) {
    auto fail_one = [&](const std::string& error) {
      failed.push_back({{"id", letter.id}, {"target", letter.target}, {"error", error}});
    };
    auto target = std::find_if(flow.targets.begin(), flow.targets.end(),
                               [&](const auto& entry) { return entry.first == letter.target; });
    if (target == flow.targets.end()) {
      fail_one(
          fmt::format("{} is no longer a target of job {}; drop the dead letter with "
                      "`megasync dlq drop {} {}`",
                      letter.target, options_.job, options_.job, letter.id));
      continue;
    }
    std::unique_ptr<RecordSink>& sink = sinks[letter.target];
    if (sink == nullptr) {
      Result<std::unique_ptr<RecordSink>> opened =
          target->second->open_record_sink(sink_request(ctx, flow, letter.target));
      if (!opened) {
        // The target, not the change: the attempt does not count.
        fail_one(opened.error().message());
        continue;
      }
      sink = std::move(*opened);
    }
    if (letter.schema && !prepared[letter.target][letter.change.collection]) {
      if (Status s = sink->prepare({*letter.schema}); !s) {
        fail_one(s.error().message());
        continue;
      }
      prepared[letter.target][letter.change.collection] = true;
    }
    Batch batch;
    batch.changes.push_back(letter.change);
    std::vector<RecordSink::Rejected> rejected;
    Status applied = sink->apply_or_reject(batch, rejected);
    if (applied && rejected.empty()) {
      Result<bool> removed = ctx.store->remove_dead_letter(options_.job, letter.id);
      if (!removed) {
        return fail(removed.error());
      }
      replayed.push_back(letter.id);
      continue;
    }
    const std::string error =
        applied ? rejected.front().error.message() : applied.error().message();
    Result<bool> noted = ctx.store->note_dead_letter_attempt(options_.job, letter.id, error);
    if (!noted) {
      return fail(noted.error());
    }
    failed.push_back({{"id", letter.id},
                      {"target", letter.target},
                      {"error", error},
                      {"attempts", letter.attempts + 1}});
  }
  return nlohmann::json{{"replayed", replayed}, {"failed", failed}};
}

}  // namespace megasync::sync::records
