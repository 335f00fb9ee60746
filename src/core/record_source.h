// Capabilities of the record sync engine (docs/design.md): a RecordSource
// reads a consistent snapshot and then changes; a RecordSink applies batches
// idempotently and says what is durable.
//
// Thread-safety: a RecordSource is used by its job's thread only; a RecordSink
// by its target's own thread only (behind the engine's bounded queue).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/change.h"
#include "core/error.h"

namespace megasync {

// How much log a source keeps for a job that not every target made durable
// yet (a PostgreSQL replication slot's lag), and the bound above which that is
// worth an alert (0: none).
struct SourceLag {
  std::int64_t bytes = 0;
  std::int64_t alert_bytes = 0;
};

class RecordSource {
 public:
  virtual ~RecordSource() = default;

  // The collections it will emit, with columns and primary keys. Fails with
  // kInvalidConfig when a configured collection is missing or has no key.
  virtual Result<std::vector<CollectionSchema>> describe() = 0;
  // Prepares to read. With no position: snapshot first, then changes from the
  // moment of the snapshot. With a position: changes after it (no snapshot).
  // kNotFound when the source no longer has that position (its log was lost,
  // a replication slot dropped) and allows starting again from a snapshot: the
  // engine then forgets every target's checkpoint and opens with no position.
  virtual Status open(const std::optional<Position>& resume_after) = 0;
  // The next batch, ending on a transaction boundary; nullopt when nothing new
  // arrived before `until` (a run that stops once caught up then stops).
  // Batches hold at most about `max_changes` changes (a transaction larger
  // than that is split only at the snapshot). A source that is not caught up
  // but has nothing to hand out yet (a broker waiting for acks that release()
  // sends) returns an empty batch ending at its last position instead; the
  // engine does not push one to the targets again.
  virtual Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) = 0;
  // Every target has durably applied everything up to `position`: the source may
  // release it (prune a log, confirm a slot's flush LSN, ack messages).
  virtual Status release(const Position& durable_everywhere) = 0;
  // Orders two positions of this source: <0, 0, >0.
  virtual int compare(const Position& a, const Position& b) const = 0;
  // False when the source cannot see deletes (it polls a cursor column): the
  // record job's periodic comparison then applies what it finds different at
  // the targets instead of only reporting it.
  virtual bool sees_deletes() const { return true; }
  // How many changes the source holds after `after` (nullopt: the rows a
  // snapshot would read), when it can tell cheaply; nullopt when it cannot.
  // Called after open().
  virtual Result<std::optional<std::int64_t>> backlog(const std::optional<Position>& after) {
    (void)after;
    return std::optional<std::int64_t>();
  }
  // The log retained for this job (after open()); nullopt when the source
  // keeps none or cannot tell.
  virtual Result<std::optional<SourceLag>> lag() { return std::optional<SourceLag>(); }
  // Whether catching up from `resume_after` should rather be a resync: a
  // fresh snapshot that replaces the targets' rows, then the changes after
  // it (the source is configured to, and its backlog outweighs its tables).
  // Asked before open(), only when every target can_replace(). When the
  // source then finds the position lost (kNotFound), the fresh snapshot the
  // engine takes replaces the targets' rows too.
  virtual Result<bool> prefers_resync(const Position& resume_after) {
    (void)resume_after;
    return false;
  }
  // Like open(resume_after) for a resync: a snapshot first (its batches'
  // positions are past `resume_after`; the engine marks them Batch::replace),
  // then the changes after it. Until every target is durable at the
  // snapshot's end, what the source kept after `resume_after` stays kept: a
  // crash before then resyncs or replays again.
  virtual Status open_resync(const Position& resume_after) {
    (void)resume_after;
    return make_error(ErrorCode::kPermanent, "this source cannot resync");
  }
};

class RecordSink {
 public:
  virtual ~RecordSink() = default;

  // Creates or alters the target collections to receive `schemas`.
  virtual Status prepare(const std::vector<CollectionSchema>& schemas) = 0;
  // Applies the batch idempotently (upserts and deletes by key; applying it
  // twice leaves the same state). Durable when it returns ok, but for a
  // snapshot batch without an end (see holds_uncommitted()). A sink that
  // keeps checkpoints stores `batch.end` (when not empty) in the same
  // transaction.
  virtual Status apply(const Batch& batch) = 0;
  // A change the target refuses for good (a message the broker will never
  // take: too large, no route, refused by a policy), which retrying cannot fix.
  struct Rejected {
    std::size_t index = 0;  // in batch.changes
    Error error;
  };
  // Like apply(), but a sink that can tell one change's permanent failure
  // from the batch's (the message sinks) applies the others and names the
  // refused ones in `rejected`; the engine then dead-letters those (the job's
  // dead_letter target) and counts the batch applied. The default applies the
  // whole batch or fails it.
  virtual Status apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) {
    (void)rejected;
    return apply(batch);
  }

  // True while rows of snapshot batches apply() returned ok for are not yet
  // committed (a sink that copies a snapshot with one statement across
  // batches commits them with a later batch, at the latest the snapshot's
  // last, the one with an end). A failure then loses them with the batch
  // that failed: the engine neither retries nor isolates that batch alone,
  // but fails the run, which takes the snapshot again.
  virtual bool holds_uncommitted() const { return false; }

  // True when the sink keeps the job's checkpoint for this target inside the
  // target, written atomically with each batch, so that "applied" and
  // "checkpointed" cannot disagree; the engine then resumes from
  // load_checkpoint() rather than from the state store's copy.
  virtual bool keeps_checkpoints() const { return false; }
  // The position of the last batch applied; nullopt when none was.
  virtual Result<std::optional<Position>> load_checkpoint() { return std::optional<Position>(); }
  // Forgets the kept checkpoint (the source lost its position and starts again
  // from a snapshot).
  virtual Status reset_checkpoint() { return ok(); }
  // Whether it applies replacing snapshots (Batch::replace) after prepare():
  // the snapshot's batches then leave each prepared collection with exactly
  // their rows, atomically with the last batch's checkpoint (a failure or a
  // crash before it leaves the target as it was).
  virtual Result<bool> can_replace() { return false; }
};

}  // namespace megasync
