// RecordSyncJob::verify choosing server-side digests: only when the source
// and the target name the same digest scheme and no transform touches the
// collection; otherwise the rows are read and digested here, as before.
// The endpoints are in memory; their readers digest "in the server" with
// their own leaves and hashes, as a database would.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "sync/records/compare.h"
#include "sync/records/record_sync_job.h"
#include "transforms/build.h"

namespace megasync::sync::records {
namespace {

CollectionSchema items_schema() {
  CollectionSchema schema;
  schema.name = "items";
  schema.columns = {{.name = "id", .type = ColumnType::kInteger},
                    {.name = "name", .type = ColumnType::kText}};
  schema.primary_key = {"id"};
  return schema;
}

// One in-memory table: id -> name; and how it was read.
struct Table {
  std::map<std::int64_t, std::string> rows;
  std::string scheme = "memory v1";  // "" : no server-side digests
  std::int64_t scanned = 0;          // rows visited by scan()
  std::int64_t leaf_rows = 0;        // rows visited by scan_leaves()
  int digests = 0;
};

std::uint32_t leaf_of(std::int64_t id, int bits) {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(id) * 2654435761u >> 7) &
         ((1u << bits) - 1);
}

class MemoryReader : public RecordReader {
 public:
  explicit MemoryReader(Table* table) : table_(table) {}
  Status begin() override { return ok(); }
  void end() override {}
  Status scan(const CollectionSchema&, const Visit& visit) override {
    return each([](std::int64_t) { return true; }, visit, table_->scanned);
  }
  Result<std::optional<std::string>> digest_scheme(const CollectionSchema&) override {
    return table_->scheme.empty() ? std::optional<std::string>()
                                  : std::optional<std::string>(table_->scheme);
  }
  Result<std::vector<LeafDigest>> server_digest(const CollectionSchema&, int bits) override {
    ++table_->digests;
    std::map<std::uint32_t, LeafDigest> leaves;
    for (const auto& [id, name] : table_->rows) {
      LeafDigest& leaf = leaves[leaf_of(id, bits)];
      leaf.leaf = leaf_of(id, bits);
      ++leaf.rows;
      leaf.sum += std::hash<std::string>{}(std::to_string(id) + "/" + name);
    }
    std::vector<LeafDigest> out;
    for (const auto& [number, leaf] : leaves) {
      out.push_back(leaf);
    }
    return out;
  }
  Status scan_leaves(const CollectionSchema&, int bits, const std::vector<std::uint32_t>& leaves,
                     const Visit& visit) override {
    return each(
        [&](std::int64_t id) {
          return std::find(leaves.begin(), leaves.end(), leaf_of(id, bits)) != leaves.end();
        },
        visit, table_->leaf_rows);
  }

 private:
  template <typename Wanted>
  Status each(const Wanted& wanted, const Visit& visit, std::int64_t& counter) {
    for (const auto& [id, name] : table_->rows) {
      if (!wanted(id)) {
        continue;
      }
      ++counter;
      std::vector<Value> key{Value(id)};
      Fields fields{{"id", Value(id)}, {"name", Value(name)}};
      if (Status s = visit(key, fields); !s) {
        return s;
      }
    }
    return ok();
  }
  Table* table_;
};

class MemorySource : public RecordSource {
 public:
  Result<std::vector<CollectionSchema>> describe() override {
    return std::vector<CollectionSchema>{items_schema()};
  }
  Status open(const std::optional<Position>&) override { return ok(); }
  Result<std::optional<Batch>> next(Deadline, std::size_t) override {
    return std::optional<Batch>();
  }
  Status release(const Position&) override { return ok(); }
  int compare(const Position&, const Position&) const override { return 0; }
};

class MemorySink : public RecordSink {
 public:
  explicit MemorySink(Table* table) : table_(table) {}
  Status prepare(const std::vector<CollectionSchema>&) override { return ok(); }
  Status apply(const Batch& batch) override {
    for (const Change& change : batch.changes) {
      const std::int64_t id = std::get<std::int64_t>(change.key[0]);
      if (change.op == Op::kDelete) {
        table_->rows.erase(id);
      } else {
        table_->rows[id] = std::get<std::string>(change.fields.at("name"));
      }
    }
    return ok();
  }

 private:
  Table* table_;
};

class MemoryEndpoint : public engine::Endpoint {
 public:
  explicit MemoryEndpoint(Table* table) : table_(table) {}
  std::string type() const override { return "memory"; }
  Status probe(Deadline) override { return ok(); }
  Result<std::unique_ptr<RecordSource>> open_record_source(const engine::SourceRequest&) override {
    return std::unique_ptr<RecordSource>(std::make_unique<MemorySource>());
  }
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest&) override {
    return std::unique_ptr<RecordSink>(std::make_unique<MemorySink>(table_));
  }
  Result<std::unique_ptr<RecordReader>> open_record_reader() override {
    return std::unique_ptr<RecordReader>(std::make_unique<MemoryReader>(table_));
  }

 private:
  Table* table_;
};

class VerifyDigestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::int64_t id = 1; id <= 30000; ++id) {
      source_.rows[id] = "item " + std::to_string(id);
    }
    target_.rows = source_.rows;
    target_.rows.erase(100);        // missing
    target_.rows[7] = "changed";    // differs
    target_.rows[90000] = "extra";  // extra
  }

  nlohmann::json verify(bool repair, const char* transform = nullptr) {
    RecordSyncOptions options;
    options.job = "items_job";
    options.source_name = "src";
    options.source = std::make_shared<MemoryEndpoint>(&source_);
    options.targets = {{"dst", std::make_shared<MemoryEndpoint>(&target_)}};
    RecordSyncJob job(std::move(options), [transform] {
      if (transform == nullptr) {
        return transforms::Chain();
      }
      return std::move(*transforms::build_chain({config::Options(YAML::Load(transform), {})}));
    });
    engine::RunContext ctx;
    ctx.job = "items_job";
    Result<nlohmann::json> doc = job.verify(ctx, repair);
    EXPECT_TRUE(doc) << (doc ? "" : doc.error().message());
    return doc ? *doc : nlohmann::json();
  }

  Table source_;
  Table target_;
};

TEST_F(VerifyDigestTest, SameSchemeDigestsInTheServerAndPullsOnlyDifferingLeaves) {
  const nlohmann::json doc = verify(false);
  const nlohmann::json& items = doc["targets"]["dst"]["collections"]["items"];
  EXPECT_FALSE(doc["equal"]);
  EXPECT_EQ(items["method"], "server");
  EXPECT_EQ(items["missing_keys"], nlohmann::json::array({"[100]"}));
  EXPECT_EQ(items["differ_keys"], nlohmann::json::array({"[7]"}));
  EXPECT_EQ(items["extra_keys"], nlohmann::json::array({"[90000]"}));
  EXPECT_EQ(items["source_rows"], 30000);
  EXPECT_EQ(source_.scanned + target_.scanned, 0);  // nothing read whole
  EXPECT_EQ(items["source_rows_read"], source_.leaf_rows);
  EXPECT_EQ(items["target_rows_read"], target_.leaf_rows);
  EXPECT_LT(source_.leaf_rows, 100);  // three leaves of about seven rows
  EXPECT_LT(target_.leaf_rows, 100);
}

TEST_F(VerifyDigestTest, RepairFixesOnlyTheDifferencesAndComparesAgainServerSide) {
  const nlohmann::json doc = verify(true);
  EXPECT_EQ(doc["targets"]["dst"]["repaired"], 3);
  EXPECT_TRUE(doc["equal_after_repair"]);
  EXPECT_EQ(target_.rows, source_.rows);
  EXPECT_EQ(source_.digests, 1);  // the source's digest is taken once
  EXPECT_EQ(target_.digests, 2);  // before and after the repair
  const nlohmann::json again = verify(false);
  EXPECT_TRUE(again["equal"]);
  EXPECT_EQ(again["targets"]["dst"]["collections"]["items"]["source_rows_read"], 0);
}

TEST_F(VerifyDigestTest, DifferentSchemesFallBackToReadingTheRows) {
  target_.scheme = "memory v2";
  const nlohmann::json doc = verify(false);
  const nlohmann::json& items = doc["targets"]["dst"]["collections"]["items"];
  EXPECT_EQ(items["method"], "client");
  EXPECT_EQ(items["missing_keys"], nlohmann::json::array({"[100]"}));
  EXPECT_EQ(items["differ_keys"], nlohmann::json::array({"[7]"}));
  EXPECT_EQ(source_.digests + target_.digests, 0);
  EXPECT_GE(items["source_rows_read"].get<std::int64_t>(), 30000);
}

TEST_F(VerifyDigestTest, ATransformedCollectionIsReadThroughTheTransformsClientSide) {
  target_.rows = source_.rows;
  for (auto& [id, name] : target_.rows) {
    name = "****" + name.substr(name.size() - 2);
  }
  const nlohmann::json doc =
      verify(false, "{type: mask, fields: [name], with: partial, keep_last: 2}");
  const nlohmann::json& items = doc["targets"]["dst"]["collections"]["items"];
  EXPECT_EQ(items["method"], "client");
  EXPECT_TRUE(doc["equal"]) << doc.dump();
  EXPECT_EQ(source_.digests + target_.digests, 0);
}

}  // namespace
}  // namespace megasync::sync::records
