#include "sync/records/compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace megasync::sync::records {
namespace {

CollectionSchema people() {
  CollectionSchema schema;
  schema.name = "people";
  schema.columns = {{.name = "id", .type = ColumnType::kInteger},
                    {.name = "name", .type = ColumnType::kText},
                    {.name = "active", .type = ColumnType::kBoolean}};
  schema.primary_key = {"id"};
  return schema;
}

struct Row {
  std::vector<Value> key;
  Fields fields;
};

// An in-memory side: rows by collection, and how often it was read.
struct Side {
  std::map<std::string, std::map<std::int64_t, Row>> tables;
  int reads = 0;

  void put(std::int64_t id, const std::string& name, Value active = Value(true)) {
    tables["people"][id] =
        Row{{Value(id)}, {{"id", Value(id)}, {"name", Value(name)}, {"active", std::move(active)}}};
  }
  RowStream stream() {
    return [this](const RowVisit& visit) -> Status {
      ++reads;
      for (auto& [collection, rows] : tables) {
        for (auto& [id, row] : rows) {
          std::vector<Value> key = row.key;
          Fields fields = row.fields;
          if (Status s = visit(collection, key, fields); !s) {
            return s;
          }
        }
      }
      return ok();
    };
  }
};

Comparison run_compare(Side& source, Side& target, const CompareOptions& options = {},
                       bool repairs = false) {
  const std::vector<CollectionSchema> schemas{people()};
  Result<Digests> a = digest(schemas, source.stream());
  Result<Digests> b = digest(schemas, target.stream());
  EXPECT_TRUE(a && b);
  Result<Comparison> c =
      compare(schemas, *a, *b, source.stream(), target.stream(), options, repairs);
  EXPECT_TRUE(c) << (c ? "" : c.error().message());
  return c ? std::move(*c) : Comparison{};
}

TEST(RowHash, BooleansAndWholeDoublesCompareAsIntegers) {
  const CollectionSchema schema = people();
  const std::vector<Value> key{Value(std::int64_t{1})};
  auto fields = [](Value active) {
    return Fields{
        {"id", Value(std::int64_t{1})}, {"name", Value(std::string("a"))}, {"active", active}};
  };
  EXPECT_EQ(row_hash(schema, key, fields(Value(true))),
            row_hash(schema, key, fields(Value(std::int64_t{1}))));
  EXPECT_EQ(row_hash(schema, key, fields(Value(2.0))),
            row_hash(schema, key, fields(Value(std::int64_t{2}))));
  EXPECT_NE(row_hash(schema, key, fields(Value(2.5))),
            row_hash(schema, key, fields(Value(std::int64_t{2}))));
  EXPECT_NE(row_hash(schema, key, fields(Value(std::string("1")))),
            row_hash(schema, key, fields(Value(std::int64_t{1}))));
  EXPECT_EQ(key_hash({Value(std::int64_t{3})}), key_hash({Value(3.0)}));
}

TEST(RowHash, NonFiniteDoublesCompareAsTheirText) {
  CollectionSchema schema;
  schema.name = "t";
  schema.columns = {{.name = "id", .type = ColumnType::kInteger},
                    {.name = "r", .type = ColumnType::kReal}};
  schema.primary_key = {"id"};
  const std::vector<Value> key{Value(std::int64_t{1})};
  auto hash = [&](Value r) { return row_hash(schema, key, {{"id", key[0]}, {"r", r}}); };
  const double inf = std::numeric_limits<double>::infinity();
  // SQLite keeps a NaN as the text "NaN"; both NaN bit patterns are one value.
  EXPECT_EQ(hash(Value(std::nan(""))), hash(Value(std::string("NaN"))));
  EXPECT_EQ(hash(Value(std::nan(""))), hash(Value(-std::nan(""))));
  EXPECT_EQ(hash(Value(inf)), hash(Value(std::string("Infinity"))));
  EXPECT_EQ(hash(Value(-inf)), hash(Value(std::string("-Infinity"))));
  EXPECT_NE(hash(Value(inf)), hash(Value(-inf)));
  EXPECT_NE(hash(Value(std::nan(""))), hash(Value()));
}

TEST(RowHash, TimestampsCompareAsInstantsWhateverTheirSpelling) {
  CollectionSchema schema;
  schema.name = "t";
  schema.columns = {{.name = "id", .type = ColumnType::kInteger},
                    {.name = "at", .type = ColumnType::kTimestampTz}};
  schema.primary_key = {"id"};
  const std::vector<Value> key{Value(std::int64_t{1})};
  auto hash = [&](const char* at) {
    return row_hash(schema, key, {{"id", key[0]}, {"at", Value(std::string(at))}});
  };
  EXPECT_EQ(hash("2026-01-05 10:00:00"), hash("2026-01-05T10:00:00"));
  EXPECT_EQ(hash("2026-01-05 10:00:00.500"), hash("2026-01-05T10:00:00.5"));
  EXPECT_EQ(hash("2026-01-05 10:00:00.000+00:00"), hash("2026-01-05T10:00:00Z"));
  EXPECT_EQ(hash("2026-01-05 10:00:00+00"), hash("2026-01-05T10:00:00Z"));
  EXPECT_NE(hash("2026-01-05 10:00:00.5"), hash("2026-01-05T10:00:00.05"));
  EXPECT_NE(hash("2026-01-05 10:00:01"), hash("2026-01-05T10:00:00"));
  EXPECT_NE(hash("2026-01-05 10:00:00+01:00"), hash("2026-01-05T10:00:00Z"));
}

TEST(RowHash, DecimalsCompareByValue) {
  CollectionSchema schema;
  schema.name = "t";
  schema.columns = {{.name = "id", .type = ColumnType::kInteger},
                    {.name = "amount", .type = ColumnType::kNumeric}};
  schema.primary_key = {"id"};
  const std::vector<Value> key{Value(std::int64_t{1})};
  auto hash = [&](Value amount) {
    return row_hash(schema, key, {{"id", key[0]}, {"amount", amount}});
  };
  EXPECT_EQ(hash(Value(std::string("2.50"))), hash(Value(2.5)));
  EXPECT_EQ(hash(Value(std::string("3.00"))), hash(Value(std::int64_t{3})));
  EXPECT_EQ(hash(Value(std::string("+7"))), hash(Value(std::string("7.0"))));
  EXPECT_NE(hash(Value(std::string("2.5"))), hash(Value(std::string("2.05"))));
  EXPECT_NE(hash(Value(std::string("20"))), hash(Value(std::string("2"))));
  EXPECT_NE(hash(Value(std::string("1"))), hash(Value()));
}

TEST(RowHash, AnAbsentColumnDiffersFromNull) {
  const CollectionSchema schema = people();
  const std::vector<Value> key{Value(std::int64_t{1})};
  Fields with_null{{"id", key[0]}, {"name", Value(std::string("a"))}, {"active", Value()}};
  Fields without{{"id", key[0]}, {"name", Value(std::string("a"))}};
  EXPECT_NE(row_hash(schema, key, with_null), row_hash(schema, key, without));
}

TEST(RangeDigest, EqualDigestsNeedOneProbe) {
  RangeDigest a;
  RangeDigest b;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    a.add(i * 0x9E3779B97F4A7C15ULL, i);
    b.add(i * 0x9E3779B97F4A7C15ULL, i);
  }
  std::size_t probes = 0;
  EXPECT_TRUE(RangeDigest::differing_leaves(a, b, &probes).empty());
  EXPECT_EQ(probes, 1u);
}

TEST(RangeDigest, BisectionFindsTheOneDifferingLeafInLogarithmicProbes) {
  RangeDigest a;
  RangeDigest b;
  for (std::uint64_t i = 0; i < 5000; ++i) {
    const std::uint64_t kh = i * 0x9E3779B97F4A7C15ULL;
    a.add(kh, i);
    b.add(kh, i == 1234 ? i + 1 : i);  // one row's value differs
  }
  std::size_t probes = 0;
  const std::vector<std::uint32_t> leaves = RangeDigest::differing_leaves(a, b, &probes);
  ASSERT_EQ(leaves.size(), 1u);
  EXPECT_EQ(leaves[0], RangeDigest::leaf_of(1234 * 0x9E3779B97F4A7C15ULL));
  // Each level compares both halves of one differing range.
  EXPECT_LE(probes, 2u * RangeDigest::kLeafBits + 1);
}

TEST(RangeDigest, OrderDoesNotMatter) {
  RangeDigest a;
  RangeDigest b;
  for (std::uint64_t i = 0; i < 100; ++i) {
    a.add(i << 50, i * 7);
    b.add((99 - i) << 50, (99 - i) * 7);
  }
  EXPECT_TRUE(RangeDigest::differing_leaves(a, b).empty());
  EXPECT_EQ(a.rows(), 100);
}

TEST(Compare, EqualSidesAreReadOnce) {
  Side source;
  Side target;
  for (int i = 0; i < 500; ++i) {
    source.put(i, "n" + std::to_string(i));
    target.put(i, "n" + std::to_string(i), Value(std::int64_t{1}));  // stored as an integer
  }
  const Comparison c = run_compare(source, target);
  EXPECT_TRUE(c.equal());
  ASSERT_EQ(c.collections.size(), 1u);
  EXPECT_EQ(c.collections[0].source_rows, 500);
  EXPECT_EQ(c.collections[0].target_rows, 500);
  EXPECT_EQ(c.collections[0].method, "client");
  EXPECT_EQ(c.collections[0].source_rows_read, 500);  // the digest's read
  EXPECT_EQ(source.reads, 1);                         // the digest only: no range to read again
  EXPECT_EQ(target.reads, 1);
}

TEST(Compare, NamesMissingExtraAndDifferingKeys) {
  Side source;
  Side target;
  for (int i = 0; i < 1000; ++i) {
    source.put(i, "n" + std::to_string(i));
    target.put(i, "n" + std::to_string(i));
  }
  target.tables["people"].erase(17);  // missing
  target.put(5000, "ghost");          // extra
  target.put(42, "changed");          // differs
  target.put(43, "n43", Value(false));
  const Comparison c = run_compare(source, target);
  ASSERT_FALSE(c.equal());
  const CollectionDifferences& d = c.collections[0];
  EXPECT_EQ(d.missing, 1);
  EXPECT_EQ(d.extra, 1);
  EXPECT_EQ(d.differ, 2);
  EXPECT_EQ(d.missing_keys, std::vector<std::string>{"[17]"});
  EXPECT_EQ(d.extra_keys, std::vector<std::string>{"[5000]"});
  EXPECT_EQ(d.differ_keys.size(), 2u);
  EXPECT_TRUE(c.repairs.empty());  // not asked for
}

TEST(Compare, SmallRoundsGiveTheSameAnswerAndBoundedMemory) {
  Side source;
  Side target;
  for (int i = 0; i < 3000; ++i) {
    source.put(i, "n" + std::to_string(i));
    if (i % 10 != 0) {
      target.put(i, "n" + std::to_string(i));
    }
  }
  CompareOptions small;
  small.round_rows = 1;  // one differing leaf per round
  small.listed_keys = 5;
  const Comparison c = run_compare(source, target, small);
  EXPECT_EQ(c.collections[0].missing, 300);
  EXPECT_EQ(c.collections[0].missing_keys.size(), 5u);
  EXPECT_GT(source.reads, 2);  // several rounds
}

TEST(Compare, RepairsMakeTheTargetEqual) {
  Side source;
  Side target;
  for (int i = 0; i < 2000; ++i) {
    source.put(i, "n" + std::to_string(i));
    if (i % 7 != 0) {
      target.put(i, i % 11 == 0 ? "stale" : "n" + std::to_string(i));
    }
  }
  target.put(9000, "extra");
  Comparison c = run_compare(source, target, {}, /*repairs=*/true);
  ASSERT_FALSE(c.equal());
  const CollectionDifferences d = c.collections[0];
  EXPECT_EQ(static_cast<std::int64_t>(c.repairs.size()), d.missing + d.extra + d.differ);
  for (const Change& change : c.repairs) {
    const std::int64_t id = std::get<std::int64_t>(change.key[0]);
    if (change.op == Op::kDelete) {
      target.tables["people"].erase(id);
    } else {
      target.tables["people"][id] = Row{change.key, change.fields};
    }
  }
  EXPECT_TRUE(run_compare(source, target).equal());
}

TEST(Compare, AMissingCollectionOnTheTargetIsAllMissing) {
  Side source;
  Side target;
  for (int i = 0; i < 10; ++i) {
    source.put(i, "x");
  }
  const Comparison c = run_compare(source, target);
  EXPECT_EQ(c.collections[0].missing, 10);
  EXPECT_EQ(c.collections[0].target_rows, 0);
}

// A side whose "database" digests itself: its leaves are cut by id (not by
// the engine's key hash) and its row hash is its own, as a server's would be.
struct ServerSide {
  Side rows;
  int leaf_reads = 0;
  std::int64_t pulled = 0;

  static std::uint32_t leaf(std::int64_t id) {
    return static_cast<std::uint32_t>(id * 7 % RangeDigest::kLeaves);
  }
  RangeDigest digest() const {
    RangeDigest out = RangeDigest::server_side();
    for (const auto& [id, row] : rows.tables.at("people")) {
      const std::string text = to_text(row.fields.at("name")) + "/" + std::to_string(id);
      out.add_leaf(leaf(id), 1, std::hash<std::string>{}(text));
    }
    return out;
  }
  LeafStream stream() {
    return [this](const LeafSelection& leaves, const RowVisit& visit) -> Status {
      ++leaf_reads;
      auto wanted = leaves.find("people");
      if (wanted == leaves.end()) {
        return ok();
      }
      for (auto& [id, row] : rows.tables["people"]) {
        if (std::find(wanted->second.begin(), wanted->second.end(), leaf(id)) ==
            wanted->second.end()) {
          continue;
        }
        ++pulled;
        std::vector<Value> key = row.key;
        Fields fields = row.fields;
        if (Status s = visit("people", key, fields); !s) {
          return s;
        }
      }
      return ok();
    };
  }
};

TEST(Compare, ServerDigestsBisectAndPullOnlyTheDifferingLeaves) {
  ServerSide source;
  ServerSide target;
  for (int i = 0; i < 20000; ++i) {
    source.rows.put(i, "n" + std::to_string(i));
    target.rows.put(i, "n" + std::to_string(i));
  }
  target.rows.tables["people"].erase(17);  // missing
  target.rows.put(50000, "ghost");         // extra
  target.rows.put(42, "changed");          // differs
  const std::vector<CollectionSchema> schemas{people()};
  const Digests a{{"people", source.digest()}};
  const Digests b{{"people", target.digest()}};
  Result<Comparison> c =
      compare(schemas, a, b, source.stream(), target.stream(), {}, /*collect_repairs=*/true);
  ASSERT_TRUE(c) << c.error().message();
  const CollectionDifferences& d = c->collections[0];
  EXPECT_EQ(d.method, "server");
  EXPECT_EQ(d.missing_keys, std::vector<std::string>{"[17]"});
  EXPECT_EQ(d.extra_keys, std::vector<std::string>{"[50000]"});
  EXPECT_EQ(d.differ_keys, std::vector<std::string>{"[42]"});
  EXPECT_EQ(c->repairs.size(), 3u);
  EXPECT_EQ(d.source_rows, 20000);
  EXPECT_EQ(d.target_rows, 20000);
  // Three leaves of about five rows each, in one round, from each side.
  EXPECT_EQ(source.leaf_reads, 1);
  EXPECT_EQ(d.source_rows_read, source.pulled);
  EXPECT_EQ(d.target_rows_read, target.pulled);
  EXPECT_LT(d.source_rows_read, 20);
  EXPECT_LT(d.target_rows_read, 20);
}

TEST(Compare, EqualServerDigestsPullNoRow) {
  ServerSide source;
  ServerSide target;
  for (int i = 0; i < 1000; ++i) {
    source.rows.put(i, "n");
    target.rows.put(i, "n");
  }
  Result<Comparison> c =
      compare({people()}, {{"people", source.digest()}}, {{"people", target.digest()}},
              source.stream(), target.stream(), {}, false);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->equal());
  EXPECT_EQ(c->collections[0].source_rows_read, 0);
  EXPECT_EQ(source.leaf_reads + target.leaf_reads, 0);
}

TEST(Compare, AServerDigestAgainstAClientOneIsRefused) {
  ServerSide source;
  Side target;
  source.rows.put(1, "a");
  target.put(1, "a");
  Result<Digests> client = digest({people()}, target.stream());
  ASSERT_TRUE(client);
  Result<Comparison> c = compare({people()}, {{"people", source.digest()}}, *client,
                                 source.stream(), whole(target.stream()), {}, false);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kPermanent);
}

TEST(KeyText, QuotesText) {
  EXPECT_EQ(key_text({Value(std::int64_t{7}), Value(std::string("a"))}), "[7, 'a']");
}

}  // namespace
}  // namespace megasync::sync::records
