#include "sync/records/compare.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <cassert>
#include <cmath>
#include <optional>
#include <set>

namespace megasync::sync::records {
namespace {

// Booleans and whole doubles compare as integers; NaN and the infinities as
// the text "NaN", "Infinity", "-Infinity" (how PostgreSQL prints them, and how
// SQLite keeps a NaN, which it cannot store as REAL); everything else by its
// canonical encoding.
void encode_comparable(const Value& value, std::string& out) {
  if (const bool* b = std::get_if<bool>(&value)) {
    encode_canonical(Value(std::int64_t{*b ? 1 : 0}), out);
    return;
  }
  if (const double* d = std::get_if<double>(&value)) {
    if (std::isnan(*d)) {
      encode_canonical(Value(std::string("NaN")), out);
      return;
    }
    if (std::isinf(*d)) {
      encode_canonical(Value(std::string(*d > 0 ? "Infinity" : "-Infinity")), out);
      return;
    }
    constexpr double kExact = 9007199254740992.0;  // 2^53: every integer below is exact
    if (std::isfinite(*d) && std::trunc(*d) == *d && std::fabs(*d) < kExact) {
      encode_canonical(Value(static_cast<std::int64_t>(*d)), out);
      return;
    }
  }
  encode_canonical(value, out);
}

// Timestamps as different systems print the same instant: "2026-01-05
// 10:00:00" (SQLite text, PostgreSQL output) and "2026-01-05T10:00:00.000"
// compare equal; so do "+00:00" and "Z". Not a parser: other text is kept.
std::string comparable_time(std::string text) {
  if (text.size() >= 19 && text[10] == ' ' && text[4] == '-' && text[13] == ':') {
    text[10] = 'T';
  }
  for (const char* utc : {"+00:00", "+00"}) {
    const std::string_view suffix(utc);
    if (text.size() > 19 && text.ends_with(suffix)) {
      text.replace(text.size() - suffix.size(), suffix.size(), "Z");
      break;
    }
  }
  if (text.size() > 20 && text[19] == '.') {
    std::size_t end = 20;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
      ++end;
    }
    std::size_t last = end;
    while (last > 20 && text[last - 1] == '0') {
      --last;
    }
    text.erase(last == 20 ? 19 : last, end - (last == 20 ? 19 : last));
  }
  return text;
}

// A decimal as text without what does not change its value: "+2.50" and 2.5
// (a double, as SQLite keeps NUMERIC) both become "2.5". Other text is kept.
std::string comparable_decimal(const Value& value) {
  std::string text;
  if (const auto* s = std::get_if<std::string>(&value)) {
    text = *s;
  } else if (const auto* d = std::get_if<double>(&value)) {
    text = fmt::format("{}", *d);
  } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
    return std::to_string(*i);
  }
  if (!text.empty() && text.front() == '+') {
    text.erase(0, 1);
  }
  const bool plain = !text.empty() && text.find_first_not_of("-0123456789.") == std::string::npos;
  if (plain && text.find('.') != std::string::npos) {
    while (text.back() == '0') {
      text.pop_back();
    }
    if (text.back() == '.') {
      text.pop_back();
    }
  }
  return text == "-0" ? "0" : text;
}

void encode_comparable(const Value& value, ColumnType type, std::string& out) {
  if (type == ColumnType::kNumeric && !is_null(value) && !std::holds_alternative<Bytes>(value) &&
      !std::holds_alternative<bool>(value)) {
    encode_canonical(Value(comparable_decimal(value)), out);
    return;
  }
  const auto* text = std::get_if<std::string>(&value);
  if (text != nullptr && (type == ColumnType::kTimestamp || type == ColumnType::kTimestampTz)) {
    encode_canonical(Value(comparable_time(*text)), out);
    return;
  }
  encode_comparable(value, out);
}

std::uint64_t hash_of(const std::string& bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::string encode_comparable_key(const std::vector<Value>& key) {
  std::string out;
  for (const Value& v : key) {
    encode_comparable(v, out);
  }
  return out;
}

// The row hash of a key already encoded (each row's key is encoded once).
std::uint64_t row_hash_of(const CollectionSchema& schema, const std::string& encoded_key,
                          const Fields& fields) {
  std::string out = encoded_key;
  for (const Column& column : schema.columns) {
    auto found = fields.find(column.name);
    if (found == fields.end()) {
      out.push_back('-');  // absent: differs from every value, null included
      continue;
    }
    encode_comparable(found->second, column.type, out);
  }
  return hash_of(out);
}

// The leaves to read again in one round, per collection: as a list for the
// stream, and as flags for the client-side filter.
struct Round {
  LeafSelection leaves;
  std::map<std::string, std::vector<bool>> flags;
};

struct SeenRow {
  std::uint64_t hash = 0;
  std::vector<Value> key;
  Fields fields;  // source rows, when repairing
};

// Rows of the selected leaves of one side, by collection and comparable key.
using Seen = std::map<std::string, std::map<std::string, SeenRow>>;

// Reads one side's rows of a round. Rows of server-digested collections
// (`server`) come already selected by the database; the others are selected
// here by the key hash. `pulled` counts every row the stream visited.
Status read_selected(const Round& round, const std::set<std::string>& server,
                     const std::map<std::string, const CollectionSchema*>& schemas,
                     const LeafStream& stream, bool keep_fields, Seen& seen,
                     std::map<std::string, std::int64_t>& pulled) {
  return stream(
      round.leaves,
      [&](const std::string& collection, std::vector<Value>& key, Fields& fields) -> Status {
        ++pulled[collection];
        auto flags = round.flags.find(collection);
        if (flags == round.flags.end()) {
          return ok();
        }
        std::string encoded = encode_comparable_key(key);
        if (!server.contains(collection) &&
            !flags->second[RangeDigest::leaf_of(hash_of(encoded))]) {
          return ok();
        }
        SeenRow row;
        row.hash = row_hash_of(*schemas.at(collection), encoded, fields);
        row.key = key;
        if (keep_fields) {
          row.fields = std::move(fields);
        }
        seen[collection][std::move(encoded)] = std::move(row);
        return ok();
      });
}

void note_key(std::vector<std::string>& listed, std::size_t limit, const std::vector<Value>& key) {
  if (listed.size() < limit) {
    listed.push_back(key_text(key));
  }
}

}  // namespace

std::uint64_t key_hash(const std::vector<Value>& key) {
  return hash_of(encode_comparable_key(key));
}

std::uint64_t row_hash(const CollectionSchema& schema, const std::vector<Value>& key,
                       const Fields& fields) {
  return row_hash_of(schema, encode_comparable_key(key), fields);
}

void RangeDigest::add(std::uint64_t key_hash, std::uint64_t row_hash) {
  const std::uint32_t leaf = leaf_of(key_hash);
  ++counts_[leaf];
  sums_[leaf] += row_hash;  // wraps: a sum modulo 2^64, independent of order
  ++rows_;
  ++rows_read_;
}

void RangeDigest::add_leaf(std::uint32_t leaf, std::int64_t rows, std::uint64_t sum) {
  assert(server_ && leaf < kLeaves);
  counts_[leaf] += rows;
  sums_[leaf] += sum;
  rows_ += rows;
}

LeafStream whole(RowStream stream) {
  return [stream = std::move(stream)](const LeafSelection&, const RowVisit& visit) {
    return stream(visit);
  };
}

std::vector<std::uint32_t> RangeDigest::differing_leaves(const RangeDigest& a, const RangeDigest& b,
                                                         std::size_t* probes) {
  std::vector<std::uint32_t> out;
  // Depth-first over ranges [lo, hi) of leaves; the range sums are computed
  // from the leaves, as a server-side checksum query would compute them.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pending{{0, kLeaves}};
  while (!pending.empty()) {
    const auto [lo, hi] = pending.back();
    pending.pop_back();
    if (probes != nullptr) {
      ++*probes;
    }
    std::int64_t count_a = 0;
    std::int64_t count_b = 0;
    std::uint64_t sum_a = 0;
    std::uint64_t sum_b = 0;
    for (std::uint32_t leaf = lo; leaf < hi; ++leaf) {
      count_a += a.counts_[leaf];
      count_b += b.counts_[leaf];
      sum_a += a.sums_[leaf];
      sum_b += b.sums_[leaf];
    }
    if (count_a == count_b && sum_a == sum_b) {
      continue;
    }
    if (hi - lo == 1) {
      out.push_back(lo);
      continue;
    }
    const std::uint32_t mid = lo + (hi - lo) / 2;
    pending.emplace_back(mid, hi);
    pending.emplace_back(lo, mid);
  }
  return out;
}

Result<Digests> digest(const std::vector<CollectionSchema>& schemas, const RowStream& stream) {
  Digests digests;
  std::map<std::string, const CollectionSchema*> by_name;
  for (const CollectionSchema& schema : schemas) {
    digests[schema.name];
    by_name[schema.name] = &schema;
  }
  Status read =
      stream([&](const std::string& collection, std::vector<Value>& key, Fields& fields) -> Status {
        auto schema = by_name.find(collection);
        if (schema == by_name.end()) {
          return ok();
        }
        const std::string encoded = encode_comparable_key(key);
        digests[collection].add(hash_of(encoded), row_hash_of(*schema->second, encoded, fields));
        return ok();
      });
  if (!read) {
    return fail(read.error());
  }
  return digests;
}

bool Comparison::equal() const {
  for (const CollectionDifferences& c : collections) {
    if (!c.equal()) {
      return false;
    }
  }
  return true;
}

Result<Comparison> compare(const std::vector<CollectionSchema>& schemas, const Digests& source,
                           const Digests& target, const LeafStream& source_stream,
                           const LeafStream& target_stream, const CompareOptions& options,
                           bool collect_repairs) {
  static const RangeDigest kEmpty;
  Comparison comparison;
  std::map<std::string, const CollectionSchema*> by_name;
  std::set<std::string> server;
  // (collection index, leaf, rows to hold) of every differing leaf.
  struct Pending {
    std::size_t collection;
    std::uint32_t leaf;
    std::int64_t rows;
  };
  std::vector<Pending> pending;
  for (const CollectionSchema& schema : schemas) {
    by_name[schema.name] = &schema;
    auto s = source.find(schema.name);
    auto t = target.find(schema.name);
    const RangeDigest& a = s == source.end() ? kEmpty : s->second;
    const RangeDigest& b = t == target.end() ? kEmpty : t->second;
    if (a.server() != b.server()) {
      return make_error(ErrorCode::kPermanent,
                        "{}: one side's digest is server-side, the other's is not", schema.name);
    }
    CollectionDifferences differences;
    differences.collection = schema.name;
    differences.source_rows = a.rows();
    differences.target_rows = b.rows();
    differences.source_rows_read = a.rows_read();
    differences.target_rows_read = b.rows_read();
    if (a.server() || b.server()) {
      differences.method = "server";
      server.insert(schema.name);
    }
    for (std::uint32_t leaf : RangeDigest::differing_leaves(a, b)) {
      pending.push_back({comparison.collections.size(), leaf, a.count(leaf) + b.count(leaf)});
    }
    comparison.collections.push_back(std::move(differences));
  }

  std::size_t next = 0;
  while (next < pending.size()) {
    // One round: as many differing leaves as fit in the row budget (at least one).
    Round round;
    std::int64_t held = 0;
    while (next < pending.size() &&
           (held == 0 || held + pending[next].rows <= options.round_rows)) {
      const std::string& name = comparison.collections[pending[next].collection].collection;
      std::vector<bool>& flags = round.flags[name];
      flags.resize(RangeDigest::kLeaves, false);
      flags[pending[next].leaf] = true;
      round.leaves[name].push_back(pending[next].leaf);
      held += pending[next].rows;
      ++next;
    }
    Seen from_source;
    Seen from_target;
    std::map<std::string, std::int64_t> source_pulled;
    std::map<std::string, std::int64_t> target_pulled;
    if (Status s = read_selected(round, server, by_name, source_stream, collect_repairs,
                                 from_source, source_pulled);
        !s) {
      return fail(s.error().with_context("source"));
    }
    if (Status s =
            read_selected(round, server, by_name, target_stream, false, from_target, target_pulled);
        !s) {
      return fail(s.error().with_context("target"));
    }
    for (CollectionDifferences& differences : comparison.collections) {
      differences.source_rows_read += source_pulled[differences.collection];
      differences.target_rows_read += target_pulled[differences.collection];
      if (!round.leaves.contains(differences.collection)) {
        continue;
      }
      std::map<std::string, SeenRow>& src = from_source[differences.collection];
      std::map<std::string, SeenRow>& dst = from_target[differences.collection];
      auto upsert = [&](SeenRow& row) {
        if (collect_repairs) {
          Change change;
          change.op = Op::kUpsert;
          change.collection = differences.collection;
          change.key = row.key;
          change.fields = std::move(row.fields);
          comparison.repairs.push_back(std::move(change));
        }
      };
      for (auto& [encoded, row] : src) {
        auto other = dst.find(encoded);
        if (other == dst.end()) {
          ++differences.missing;
          note_key(differences.missing_keys, options.listed_keys, row.key);
          upsert(row);
        } else if (other->second.hash != row.hash) {
          ++differences.differ;
          note_key(differences.differ_keys, options.listed_keys, row.key);
          upsert(row);
        }
      }
      for (auto& [encoded, row] : dst) {
        if (src.contains(encoded)) {
          continue;
        }
        ++differences.extra;
        note_key(differences.extra_keys, options.listed_keys, row.key);
        if (collect_repairs) {
          Change change;
          change.op = Op::kDelete;
          change.collection = differences.collection;
          change.key = row.key;
          comparison.repairs.push_back(std::move(change));
        }
      }
    }
  }
  return comparison;
}

Result<Comparison> compare(const std::vector<CollectionSchema>& schemas, const Digests& source,
                           const Digests& target, const RowStream& source_stream,
                           const RowStream& target_stream, const CompareOptions& options,
                           bool collect_repairs) {
  return compare(schemas, source, target, whole(source_stream), whole(target_stream), options,
                 collect_repairs);
}

std::string key_text(const std::vector<Value>& key) {
  std::string out = "[";
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += std::holds_alternative<std::string>(key[i]) ? fmt::format("'{}'", to_text(key[i]))
                                                       : to_text(key[i]);
  }
  return out + "]";
}

}  // namespace megasync::sync::records
