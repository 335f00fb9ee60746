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
};

// What a record job asks of a target endpoint.
struct SinkRequest {
  std::string job;
  std::string target;  // the endpoint's name
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
  virtual Result<std::shared_ptr<ObjectStore>> object_store() {
    return make_error(ErrorCode::kInvalidConfig, "a {} endpoint is not an object store", type());
  }
};

}  // namespace megasync::engine
