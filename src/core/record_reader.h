// A capability for verification (`megasync verify` and the check after each
// run): reading the rows a record system holds now, in one consistent read,
// without setting anything up (no triggers, no slots, no consumer).
//
// A reader may also compute digests inside the system itself (an optional
// capability: digest_scheme, server_digest, scan_leaves), so that a
// verification of equal tables pulls no rows at all.
//
// Created by Endpoint::open_record_reader for one verification and used by one
// thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/error.h"

namespace megasync {

class RecordReader {
 public:
  // One row: its key values in the schema's primary-key order, and the values
  // of the schema's columns this side has (a column it lacks is absent).
  using Visit = std::function<Status(std::vector<Value>& key, Fields& fields)>;

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

  // Server-side digests (optional; between begin() and end(), like scan).
  //
  // The key space is cut into 2^leaf_bits leaves by a hash of the key, and each
  // leaf keeps its row count and the sum (modulo 2^64) of its rows' hashes.
  // Two readers that return the same digest_scheme for a collection hash a
  // key and a row identically (same hash functions, same columns in the same
  // order, same text forms of the values), so their digests compare leaf by
  // leaf; the leaf of a key is the same on both sides.
  struct LeafDigest {
    std::uint32_t leaf = 0;
    std::int64_t rows = 0;
    std::uint64_t sum = 0;
  };

  // The id of the scheme this reader would hash `schema`'s collection with,
  // or nullopt when it cannot (no such capability, no such table, a column
  // the table lacks). Errors are those of the system (a lost connection).
  virtual Result<std::optional<std::string>> digest_scheme(const CollectionSchema& schema) {
    (void)schema;
    return std::optional<std::string>();
  }
  // The non-empty leaves of the collection, computed by the system. Only called
  // after digest_scheme returned a scheme; the default fails (kPermanent).
  virtual Result<std::vector<LeafDigest>> server_digest(const CollectionSchema& schema,
                                                        int leaf_bits) {
    (void)leaf_bits;
    return make_error(ErrorCode::kPermanent, "{}: this reader computes no digests", schema.name);
  }
  // Calls `visit` for every row whose leaf (as server_digest cuts the key
  // space) is in `leaves`, like scan. The default fails (kPermanent).
  virtual Status scan_leaves(const CollectionSchema& schema, int leaf_bits,
                             const std::vector<std::uint32_t>& leaves, const Visit& visit) {
    (void)leaf_bits;
    (void)leaves;
    (void)visit;
    return make_error(ErrorCode::kPermanent, "{}: this reader computes no digests", schema.name);
  }
};

}  // namespace megasync
