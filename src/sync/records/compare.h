// Comparing the rows of a record source with a target's, for `megasync verify`
// and the check after each run (docs/design.md "Verification").
//
// Each side is reduced to a digest per collection: the key space is cut into
// 4096 ranges by a hash of the key, and each range keeps its row count and the
// sum of its rows' hashes — order-independent, so neither side has to be read
// in key order. Two digests are compared by bisection: a range whose count and
// sum agree is equal as a whole, one that differs is halved until single
// leaves remain. Only the rows of differing leaves are then read again, in
// rounds of bounded size, to name the differing keys (and, for a repair, to
// hold the source's rows). Equal tables cost one read of each side.
//
// A digest is computed here from the rows (client side), or by a database
// itself (server side: RecordReader::server_digest, with the database's own
// hashes and leaves) when both sides hash a collection by the same scheme.
// The bisection is the same; a server-digested collection's differing leaves
// are then read again through RecordReader::scan_leaves, which returns only
// their rows, and those rows are compared here as any others.
//
// Values are compared as the target stores them would compare: a boolean equals
// the integer 0 or 1, and a whole double equals the integer (SQLite, for one,
// keeps booleans as integers); in timestamp columns, "2026-01-05 10:00:00.500"
// equals "2026-01-05T10:00:00.5", and "+00:00" equals "Z"; a NaN or infinite
// double equals the text "NaN", "Infinity" or "-Infinity".
//
// Thread-safety: values and free functions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/error.h"

namespace megasync::sync::records {

// The hash of a key, which picks its range; and of a whole row (key and the
// schema's columns, a missing column counting as absent, not as null).
std::uint64_t key_hash(const std::vector<Value>& key);
std::uint64_t row_hash(const CollectionSchema& schema, const std::vector<Value>& key,
                       const Fields& fields);

// Row counts and hash sums per key range of one collection.
class RangeDigest {
 public:
  static constexpr int kLeafBits = 12;
  static constexpr std::uint32_t kLeaves = 1u << kLeafBits;

  RangeDigest() : counts_(kLeaves, 0), sums_(kLeaves, 0) {}
  // An empty digest to be filled by add_leaf (a table with no rows has no leaves).
  static RangeDigest server_side() {
    RangeDigest digest;
    digest.server_ = true;
    return digest;
  }
  static std::uint32_t leaf_of(std::uint64_t key_hash) {
    return static_cast<std::uint32_t>(key_hash >> (64 - kLeafBits));
  }
  // Adds one row read here (a client-side digest).
  void add(std::uint64_t key_hash, std::uint64_t row_hash);
  // Adds a leaf's count and sum as a database computed them (server_side()).
  void add_leaf(std::uint32_t leaf, std::int64_t rows, std::uint64_t sum);
  std::int64_t rows() const { return rows_; }
  std::int64_t count(std::uint32_t leaf) const { return counts_[leaf]; }
  bool server() const { return server_; }
  // The rows pulled from the side to build the digest (none for a server one).
  std::int64_t rows_read() const { return rows_read_; }

  // The leaves where `a` and `b` differ, found by bisection from the whole
  // key space down; `probes` (when given) counts the ranges compared.
  static std::vector<std::uint32_t> differing_leaves(const RangeDigest& a, const RangeDigest& b,
                                                     std::size_t* probes = nullptr);

 private:
  std::vector<std::int64_t> counts_;
  std::vector<std::uint64_t> sums_;
  std::int64_t rows_ = 0;
  std::int64_t rows_read_ = 0;
  bool server_ = false;
};

// One side's rows, as the target should name them: calls `visit` once per row
// with its collection, key and fields. Each call of a RowStream reads the side
// afresh (a verification reads a side once, and again for differing ranges).
using RowVisit =
    std::function<Status(const std::string& collection, std::vector<Value>& key, Fields& fields)>;
using RowStream = std::function<Status(const RowVisit& visit)>;

// The leaves to read again, per collection (sorted).
using LeafSelection = std::map<std::string, std::vector<std::uint32_t>>;
// One side's rows of the selected leaves, read afresh. For a collection whose
// digests are server-side it must visit exactly the rows of those leaves (as
// the database cuts them); for the others it may visit more (every row, as a
// RowStream does), and rows of other leaves are skipped here. It must not
// visit rows of collections it was not asked for that have server digests.
using LeafStream = std::function<Status(const LeafSelection& leaves, const RowVisit& visit)>;
// A RowStream as a LeafStream: every row of every collection, each time.
LeafStream whole(RowStream stream);

// Digests of every collection of `schemas` (the target-side schemas).
using Digests = std::map<std::string, RangeDigest>;
Result<Digests> digest(const std::vector<CollectionSchema>& schemas, const RowStream& stream);

struct CollectionDifferences {
  std::string collection;
  std::int64_t source_rows = 0;
  std::int64_t target_rows = 0;
  std::int64_t missing = 0;  // in the source, not in the target
  std::int64_t extra = 0;    // in the target, not in the source
  std::int64_t differ = 0;   // in both, with different values
  // "server" when both sides' digests were computed by their databases,
  // "client" when from rows read here.
  std::string method = "client";
  // Rows pulled from each side, for the digest and to read differing leaves.
  std::int64_t source_rows_read = 0;
  std::int64_t target_rows_read = 0;
  // The first keys of each kind, as text ("[42]", "[7, 2]").
  std::vector<std::string> missing_keys, extra_keys, differ_keys;

  bool equal() const { return missing == 0 && extra == 0 && differ == 0; }
};

struct CompareOptions {
  std::size_t listed_keys = 20;      // keys named per kind and collection
  std::int64_t round_rows = 200000;  // rows held in memory per round of the second read
};

struct Comparison {
  std::vector<CollectionDifferences> collections;  // in schema order
  // With `collect_repairs`: the changes that make the target equal to the
  // source (upserts of missing and differing rows, deletes of extra keys).
  std::vector<Change> repairs;
  bool equal() const;
};

// Compares two sides whose digests were taken; reads the differing ranges of
// both again through the streams. A collection's two digests must be both
// client-side or both server-side (kPermanent otherwise: a bug of the caller).
Result<Comparison> compare(const std::vector<CollectionSchema>& schemas, const Digests& source,
                           const Digests& target, const LeafStream& source_stream,
                           const LeafStream& target_stream, const CompareOptions& options,
                           bool collect_repairs);
// The same with client-side digests only, each side read whole again.
Result<Comparison> compare(const std::vector<CollectionSchema>& schemas, const Digests& source,
                           const Digests& target, const RowStream& source_stream,
                           const RowStream& target_stream, const CompareOptions& options,
                           bool collect_repairs);

// "[42]", "[7, 'a']".
std::string key_text(const std::vector<Value>& key);

}  // namespace megasync::sync::records
