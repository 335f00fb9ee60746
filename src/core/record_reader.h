// A capability for verification (`megasync verify` and the check after each
// run): reading the rows a record system holds now, in one consistent read,
// without setting anything up (no triggers, no slots, no consumer).
//
// Created by Endpoint::open_record_reader for one verification and used by one
// thread only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/error.h"

namespace megasync {

class RecordReader {
 public:
  // One row: its key values in the schema's primary-key order, and the values
  // of the schema's columns this side has (a column it lacks is absent).
  using Visit =
      std::function<Status(std::vector<Value>& key, std::map<std::string, Value>& fields)>;

  virtual ~RecordReader() = default;

  // Starts the consistent read that every scan until end() belongs to (one
  // snapshot across collections where the system has snapshots).
  virtual Status begin() = 0;
  // Calls `visit` for every row of the collection named `schema.name`, in no
  // particular order. A collection this side does not have has no rows. Stops
  // at the first error `visit` returns and returns it.
  virtual Status scan(const CollectionSchema& schema, const Visit& visit) = 0;
  // Ends the read.
  virtual void end() = 0;
};

}  // namespace megasync
