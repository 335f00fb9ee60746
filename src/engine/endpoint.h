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

#include <string>

#include "core/cancel.h"
#include "core/error.h"

namespace megasync::engine {

class Endpoint {
 public:
  virtual ~Endpoint() = default;

  // The connector name ("sqlite", "fs").
  virtual std::string type() const = 0;
  // A cheap health check that finishes before `deadline`: ok when the system is
  // reachable and usable with the configured credentials; otherwise an error
  // saying what is wrong (never containing a secret).
  virtual Status probe(Deadline deadline) = 0;
};

}  // namespace megasync::engine
