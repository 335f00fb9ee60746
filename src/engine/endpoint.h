// An endpoint: one configured connection to an external system (a database, a
// bucket, a folder), named in the config and shared by the jobs that use it.
//
// Created by its connector's factory (connectors/<name>/factory.cc) when the
// config is loaded; owned by the daemon through shared_ptr, so that a job still
// running after a reload keeps the endpoint it started with. The sync engines
// ask an endpoint for the capabilities they need; the monitor calls probe().
//
// Thread-safety: probe() is called from the monitor thread while jobs use the
// endpoint; implementations must make it safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/error.h"
#include "core/object_store.h"
#include "core/record_reader.h"
#include "core/record_source.h"

namespace megasync::engine {

// What a record job asks of its source endpoint.
struct SourceRequest {
  std::string job;                       // names the source's own state (triggers, slots)
  std::vector<std::string> collections;  // names or globs ("orders", "sales_*"); empty: all
  // Bidirectional pairs: transactions a sink applied under this origin are not
  // read (they came from the other side of the pair). Empty: every one is read.
  std::string skip_origin;
};

// Changes of one collection a sink did not apply because the target's row was
// newer (last writer wins, bidirectional pairs), reported once the batch is durable.
struct ConflictReport {
  struct Sample {
    std::string key;               // the key's values, joined by ","
    std::string kept_version;      // the target's version, which stayed
    std::string incoming_version;  // the version that was not applied
  };
  std::string collection;
  std::int64_t count = 0;
  std::vector<Sample> samples;  // at most ten
};

// What a record job asks of a target endpoint.
struct SinkRequest {
  std::string job;
  std::string target;  // the endpoint's name

  // Bidirectional pairs only (Endpoint::pairs_bidirectionally); empty for one-way jobs.
  // The sink marks every transaction it applies with this replication origin,
  // so that the source of the other direction skips them.
  std::string origin;
  // Last writer wins: an upsert replaces the target's row only when its value
  // of this column is greater, or equal and `incoming_wins_ties`.
  std::string version_column;
  bool incoming_wins_ties = false;
  // Called on the sink's thread after a batch with conflicts was committed.
  std::function<void(const ConflictReport&)> on_conflicts;
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;

  // The connector name ("sqlite", "fs").
  virtual std::string type() const = 0;
  // A cheap health check that finishes before `deadline`: ok when the system is
  // reachable and usable with the configured credentials; otherwise an error
  // saying what is wrong (never containing a secret).
  virtual Status probe(Deadline deadline) = 0;

  // Capabilities. The defaults say the connector does not have them; a job
  // whose endpoint lacks what it needs fails to build with that message.
  virtual Result<std::unique_ptr<RecordSource>> open_record_source(const SourceRequest&) {
    return make_error(ErrorCode::kInvalidConfig, "a {} endpoint cannot be a record source", type());
  }
  virtual Result<std::unique_ptr<RecordSink>> open_record_sink(const SinkRequest&) {
    return make_error(ErrorCode::kInvalidConfig, "a {} endpoint cannot be a record target", type());
  }
  // Reads what the endpoint holds now, for verification (record_reader.h).
  virtual Result<std::unique_ptr<RecordReader>> open_record_reader() {
    return make_error(ErrorCode::kInvalidConfig, "a {} endpoint cannot be read for verification",
                      type());
  }
  // True when the endpoint can be one side of a bidirectional pair: its sink
  // honours SinkRequest's origin and version column and its source honours
  // SourceRequest::skip_origin.
  virtual bool pairs_bidirectionally() const { return false; }

  // What the endpoint's server keeps for `job` between runs at a cost (a
  // PostgreSQL replication slot retains WAL until it is dropped), one line
  // each, naming it and what it holds. Asked about jobs removed from the
  // configuration; empty when it keeps nothing.
  virtual Result<std::vector<std::string>> retained_for(const std::string& job) {
    (void)job;
    return std::vector<std::string>{};
  }
  // Drops all of it, and whatever else the endpoint keeps for the job (a
  // publication, checkpoint rows), for `megasync run --drop-slots`. Ok when
  // there was nothing.
  virtual Status release_job(const std::string& job) {
    (void)job;
    return ok();
  }

  virtual Result<std::shared_ptr<ObjectStore>> object_store() {
    return make_error(ErrorCode::kInvalidConfig, "a {} endpoint is not an object store", type());
  }
};

}  // namespace megasync::engine
