// The record sync engine's job: reads batches from one RecordSource, rewrites
// them with the job's transforms and fans them out to every target through a
// bounded queue per target (TargetWorker). Each target is checkpointed on its
// own, after its sink made a batch durable; the source is told to release only
// what every target has made durable (docs/design.md "Record sync").
//
// A bidirectional pair (`direction: bidirectional`) is two such flows in one
// job, source→target and target→source, run side by side (the second on a
// thread of its own), each with its own slot and checkpoints; see
// docs/configuration.md "Bidirectional pairs".
//
// Created by the record job kinds' factory (factory.cc); run() is called on the
// job's thread, one run at a time. A run opens the source and the sinks afresh
// and closes them when it returns, so an abandoned run holds nothing the next
// one needs.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/duration.h"
#include "engine/endpoint.h"
#include "engine/job.h"
#include "sync/records/compare.h"
#include "sync/records/target_worker.h"
#include "transforms/transform.h"

namespace megasync::sync::records {

// Last writer wins between the two sides of a bidirectional pair.
struct PairOptions {
  std::string version_column;
  std::string winner;  // endpoint whose row stays when versions tie
};

struct RecordSyncOptions {
  std::string job;
  std::string source_name;
  std::shared_ptr<engine::Endpoint> source;
  std::vector<std::pair<std::string, std::shared_ptr<engine::Endpoint>>> targets;
  std::vector<std::string> tables;  // names or globs; empty: all
  std::size_t batch_size = 1000;
  std::size_t queue_batches = 4;
  // Periodic jobs stop once the source has nothing new; a continuous job
  // (interval 0) keeps polling until its deadline or cancellation.
  bool stop_when_caught_up = true;
  // `stream: true`: a run keeps reading as changes arrive for this long once
  // past its snapshot (the job's interval), then ends; zero: see above.
  Duration stream_for{0};
  // After a run that caught up, compare every target with the source (counts
  // and checksums) when this long passed since the last comparison; zero: never.
  Duration verify_interval{0};
  // Set for `direction: bidirectional` (exactly one target).
  std::optional<PairOptions> pair;
  // Dead letters (README.md "Dead letters"): attempts of a change alone
  // before it is dead-lettered (0: only changes a sink rejects are), and
  // where they go (an endpoint's record sink; none: the state store).
  int dead_letter_after = 0;
  std::string dead_letter_name;
  std::shared_ptr<engine::Endpoint> dead_letter;
  // False for kind messages: message streams are not compared, and
  // `megasync verify` says there is nothing to compare.
  bool comparable = true;
};

// One directed flow: a source and its targets. A one-way job has one; a
// bidirectional pair two.
struct Flow {
  std::string source_name;
  std::shared_ptr<engine::Endpoint> source;
  std::vector<std::pair<std::string, std::shared_ptr<engine::Endpoint>>> targets;
  std::string source_job;   // SourceRequest::job: names the source's slot
  std::string marker;       // state store key (target) of its snapshot marker
  std::string skip_origin;  // SourceRequest::skip_origin
  std::size_t index = 0;    // in the job's flows (0: the job's direction)
};

// The replication origin a pair's sink writing to `endpoint` marks its
// transactions with: "megasync_<job>_<endpoint>".
std::string pair_origin(const std::string& job, const std::string& endpoint);

// What one comparison found for one target.
struct TargetVerdict {
  std::string target;
  Comparison comparison;
  std::int64_t repaired = 0;  // changes applied by a repair
  std::optional<bool> equal_after_repair;
};

class RecordSyncJob : public engine::Job {
 public:
  // `transforms` is called once per run for a fresh chain (a Chain keeps the
  // schemas of the run it was prepared for).
  RecordSyncJob(RecordSyncOptions options, std::function<transforms::Chain()> transforms);

  // Ok when every target applied everything read; kCancelled on cancellation;
  // a retryable error naming each failed target otherwise (the next run resumes
  // every target from its own checkpoint).
  // Then, every verify_interval, compares the targets with the source; a
  // target that still differs after one more pass is reported diverged
  // (megasync_job_in_sync = 0, event sync.diverged). The run still succeeds:
  // what it read was applied. For a source that cannot see deletes
  // (RecordSource::sees_deletes), what still differs is repaired instead, and
  // only a target that differs after the repair is reported diverged.
  Status run(engine::RunContext& ctx) override;

  // `megasync verify`: {"equal", "targets": {name: {"equal", "collections":
  // {name: {source_rows, target_rows, missing, extra, differ, *_keys}}}}};
  // with `repair`, applies the differences and compares again.
  Result<nlohmann::json> verify(engine::RunContext& ctx, bool repair) override;

  // `megasync dlq replay`: applies the job's dead letters `ids` (all when
  // empty) from the state store to the targets that refused them, each through
  // a sink of that target. One applied is removed from the store; one refused
  // again stays with one more attempt and the new error. Returns
  // {"replayed": [id...], "failed": [{"id", "target", "error"}...]}; fails only
  // when the state store does (an unknown id is in "failed").
  Result<nlohmann::json> replay_dead_letters(engine::RunContext& ctx,
                                             const std::vector<std::int64_t>& ids) override;

  nlohmann::json describe() const override;

 private:
  // Hooks a pair's flows use to order their first start (record_sync_job.cc).
  struct PassHooks {
    std::function<void()> prepared;           // the targets are prepared, nothing read yet
    std::function<void()> opened;             // the source is open (its snapshot taken)
    const std::atomic<bool>* stop = nullptr;  // the other flow failed: end the pass
  };
  // What check_targets does with the differences it finds.
  enum class Repair {
    kNone,    // reports them
    kAll,     // applies them (verify --repair)
    kIfBlind  // applies them when the source cannot see deletes (the check after a run)
  };
  // Per-flow state kept across runs; touched only by the thread running the flow.
  struct FlowState {
    std::optional<SteadyTime> last_lag_check;
    bool lag_alerted = false;
  };
  // Every flow reads until caught up (the body of a run): one flow, or both
  // flows of a pair side by side.
  Status pass(engine::RunContext& ctx);
  // One flow, with the replay an interrupted snapshot asks for.
  Status flow_pass(engine::RunContext& ctx, const Flow& flow, const PassHooks& hooks);
  Status pair_pass(engine::RunContext& ctx);
  // Reads from the flow's source until caught up and fans out. Sets `replay`
  // when the log must be replayed from an earlier snapshot's marker.
  Status sync_pass(engine::RunContext& ctx, const Flow& flow, const PassHooks& hooks, bool& replay);
  // What a sink of `flow` is asked for (origin, last writer wins, conflicts).
  engine::SinkRequest sink_request(engine::RunContext& ctx, const Flow& flow,
                                   const std::string& target) const;
  // Compares every target with the source; repairs as `repair` says.
  Result<std::vector<TargetVerdict>> check_targets(engine::RunContext& ctx, Repair repair);
  // The periodic comparison after a run, with its metrics and events.
  void verify_after_run(engine::RunContext& ctx);
  // How a worker for `target` dead-letters (README.md "Dead letters").
  DeadLetterSettings dead_letter_settings(engine::RunContext& ctx,
                                          const std::shared_ptr<engine::Endpoint>& target,
                                          const std::vector<CollectionSchema>& schemas) const;
  // Reports the batch's schema changes (log, schema.changed event) and shapes
  // them as the targets will see them (through the transforms).
  Status adopt_schema_changes(engine::RunContext& ctx, transforms::Chain& chain, Batch& batch);
  // Exports the source's retained log (megasync_replication_slot_lag_bytes)
  // at most every 10 s unless `force`, with an event when it crosses the
  // source's alert bound either way.
  void watch_lag(engine::RunContext& ctx, const Flow& flow, RecordSource& source, bool force);
  // How far each target is behind (megasync_job_lag_records).
  void export_lag(engine::RunContext& ctx, const Flow& flow, RecordSource& source,
                  const std::vector<std::optional<Position>>& durable);

  RecordSyncOptions options_;
  std::vector<Flow> flows_;  // the job's direction first
  std::function<transforms::Chain()> make_transforms_;
  std::optional<SteadyTime> last_verified_;  // job thread only
  std::vector<FlowState> flow_states_;       // one per flow; see FlowState
  // The extra pass of verify_after_run: it ends once caught up, even when the
  // job streams. Set on the job thread while no flow runs.
  bool settling_pass_ = false;
  bool warned_blind_ = false;  // the warning about a source blind to deletes; job thread only

  mutable std::mutex mutex_;  // guards what describe() reads
  nlohmann::json last_verification_;
};

}  // namespace megasync::sync::records
