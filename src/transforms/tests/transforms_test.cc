#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "transforms/build.h"
#include "transforms/fields.h"
#include "transforms/filter.h"
#include "transforms/mask.h"
#include "transforms/normalize.h"

namespace megasync::transforms {
namespace {

CollectionSchema users() {
  CollectionSchema schema;
  schema.name = "users";
  schema.columns = {{.name = "id", .type = ColumnType::kInteger},
                    {.name = "email", .type = ColumnType::kText},
                    {.name = "status", .type = ColumnType::kText},
                    {.name = "amount", .type = ColumnType::kReal},
                    {.name = "card", .type = ColumnType::kText},
                    {.name = "seen", .type = ColumnType::kTimestamp}};
  schema.primary_key = {"id"};
  return schema;
}

Change user(std::int64_t id) {
  Change change;
  change.collection = "users";
  change.key = {id};
  change.fields = {{"id", id},
                   {"email", std::string("  Ann@Example.COM ")},
                   {"status", std::string("paid")},
                   {"amount", 150.0},
                   {"card", std::string("4111111111111234")},
                   {"seen", std::string("2024-03-01T10:00:00+02:00")}};
  return change;
}

// Options as the config loader would produce them (no defaults applied here).
config::Options entry(const std::string& yaml) {
  return config::Options(YAML::Load(yaml), config::Location{.key_path = "jobs.j.transforms[0]"});
}

Result<Chain> chain_of(const std::string& yaml) {
  return build_chain({entry(yaml)});
}

// Runs `chain` over one change of `users`; nullopt when dropped.
std::optional<Change> run(Chain& chain, Change change) {
  auto schemas = chain.apply_schemas({users()});
  EXPECT_TRUE(schemas) << schemas.error().message();
  Batch batch;
  batch.changes = {std::move(change)};
  batch.end = "7";
  EXPECT_TRUE(chain.apply(batch));
  EXPECT_EQ(batch.end, "7");
  return batch.changes.empty() ? std::nullopt : std::optional<Change>(batch.changes[0]);
}

TEST(RenameTest, RenamesFieldsKeysAndTheCollection) {
  auto chain = chain_of(
      "{type: rename, collection: users, rename: {id: user_id, email: mail}, collection_to: "
      "customers}");
  ASSERT_TRUE(chain) << chain.error().message();
  auto schemas = chain->apply_schemas({users()});
  ASSERT_TRUE(schemas);
  EXPECT_EQ((*schemas)[0].name, "customers");
  EXPECT_EQ((*schemas)[0].primary_key, std::vector<std::string>{"user_id"});
  EXPECT_NE((*schemas)[0].column("mail"), nullptr);
  std::optional<Change> out = run(*chain, user(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->collection, "customers");
  EXPECT_EQ(out->fields.count("email"), 0u);
  EXPECT_EQ(out->fields.at("user_id"), Value(std::int64_t{1}));
}

TEST(RenameTest, UnknownFieldIsAConfigError) {
  auto chain = chain_of("{type: rename, rename: {nope: x}}");
  ASSERT_TRUE(chain);
  auto schemas = chain->apply_schemas({users()});
  ASSERT_FALSE(schemas);
  EXPECT_EQ(schemas.error().code(), ErrorCode::kInvalidConfig);
}

TEST(ProjectTest, SelectKeepsListedFieldsAndTheKey) {
  auto chain = chain_of("{type: select, fields: [email]}");
  ASSERT_TRUE(chain);
  std::optional<Change> out = run(*chain, user(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->fields.size(), 2u);
  EXPECT_EQ(out->fields.count("id"), 1u);
  EXPECT_EQ(out->fields.count("email"), 1u);
}

TEST(ProjectTest, DropRemovesFieldsButNeverTheKey) {
  auto chain = chain_of("{type: drop, fields: [card, seen]}");
  ASSERT_TRUE(chain);
  std::optional<Change> out = run(*chain, user(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->fields.count("card"), 0u);
  EXPECT_EQ(out->fields.size(), 4u);
  auto bad = chain_of("{type: drop, fields: [id]}");
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->apply_schemas({users()}));
}

TEST(FilterTest, ParsesPredicates) {
  auto eq = parse_predicate("status = 'paid'");
  ASSERT_TRUE(eq);
  EXPECT_EQ(eq->field, "status");
  EXPECT_EQ(eq->literal, Value(std::string("paid")));
  auto ge = parse_predicate("amount>=100");
  ASSERT_TRUE(ge);
  EXPECT_EQ(ge->op, Predicate::Op::kGe);
  EXPECT_EQ(ge->literal, Value(std::int64_t{100}));
  auto null = parse_predicate("deleted_at IS NOT NULL");
  ASSERT_TRUE(null);
  EXPECT_EQ(null->op, Predicate::Op::kIsNotNull);
  EXPECT_EQ(null->field, "deleted_at");
  EXPECT_FALSE(parse_predicate("amount ~ 3"));
  EXPECT_FALSE(parse_predicate("status = paid"));
}

TEST(FilterTest, MatchesLikeSql) {
  EXPECT_TRUE(parse_predicate("amount > 100")->matches(150.0));
  EXPECT_FALSE(parse_predicate("amount > 100")->matches(std::int64_t{100}));
  EXPECT_TRUE(parse_predicate("amount <= 100")->matches(std::int64_t{100}));
  EXPECT_TRUE(parse_predicate("amount != 1.5")->matches(2.0));
  EXPECT_FALSE(parse_predicate("amount < 5")->matches(Value()));
  EXPECT_TRUE(parse_predicate("amount is null")->matches(Value()));
  EXPECT_FALSE(parse_predicate("status = 'paid'")->matches(std::string("open")));
  EXPECT_FALSE(parse_predicate("status = 'paid'")->matches(std::int64_t{1}));
}

TEST(FilterTest, NonMatchingUpsertBecomesADelete) {
  auto chain = chain_of("{type: filter, where: \"amount > 200\"}");
  ASSERT_TRUE(chain);
  std::optional<Change> out = run(*chain, user(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->op, Op::kDelete);
  EXPECT_TRUE(out->fields.empty());
  EXPECT_EQ(out->key, std::vector<Value>{std::int64_t{1}});

  auto paid = chain_of("{type: filter, where: \"status = 'paid'\"}");
  ASSERT_TRUE(paid);
  out = run(*paid, user(2));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->op, Op::kUpsert);
}

TEST(FilterTest, OnlyTheNamedCollection) {
  auto chain = chain_of("{type: filter, collection: other, where: \"amount > 200\"}");
  ASSERT_TRUE(chain);
  std::optional<Change> out = run(*chain, user(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->op, Op::kUpsert);
}

TEST(ChainTest, TouchesOnlyTheCollectionsItsTransformsApplyTo) {
  auto only_other = chain_of("{type: filter, collection: other, where: \"amount > 200\"}");
  ASSERT_TRUE(only_other);
  EXPECT_TRUE(only_other->touches("other"));
  EXPECT_FALSE(only_other->touches("users"));
  auto every = chain_of("{type: mask, fields: [card], with: fixed, value: x}");
  ASSERT_TRUE(every);
  EXPECT_TRUE(every->touches("users"));
  EXPECT_FALSE(Chain().touches("users"));
}

TEST(MaskTest, HmacIsDeterministicAndKeyed) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  auto chain = chain_of("{type: mask, fields: [email], with: hmac, key: s3cret}");
  ASSERT_TRUE(chain);
  std::optional<Change> out = run(*chain, user(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(std::get<std::string>(out->fields.at("email")),
            hmac_sha256_hex("s3cret", "  Ann@Example.COM "));
  EXPECT_FALSE(chain_of("{type: mask, fields: [email], with: hmac}"));
}

TEST(MaskTest, FixedAndPartialAndNull) {
  auto fixed = chain_of("{type: mask, fields: [email], with: fixed, value: hidden}");
  ASSERT_TRUE(fixed);
  EXPECT_EQ(run(*fixed, user(1))->fields.at("email"), Value(std::string("hidden")));
  auto partial = chain_of("{type: mask, fields: [card], with: partial, keep_last: 4}");
  ASSERT_TRUE(partial);
  EXPECT_EQ(run(*partial, user(1))->fields.at("card"), Value(std::string("****1234")));
  Change with_null = user(1);
  with_null.fields["card"] = Value();
  EXPECT_TRUE(is_null(run(*partial, with_null)->fields.at("card")));
  auto key = chain_of("{type: mask, fields: [id], with: fixed}");
  ASSERT_TRUE(key);
  EXPECT_FALSE(key->apply_schemas({users()}));
}

TEST(NormalizeTest, TrimLowercaseAndUtc) {
  auto chain =
      chain_of("{type: normalize, fields: [email, seen], ops: [trim, lowercase, utc_timestamp]}");
  ASSERT_TRUE(chain) << chain.error().message();
  std::optional<Change> out = run(*chain, user(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->fields.at("email"), Value(std::string("ann@example.com")));
  // lowercase ran first; the lowercase "t" separator is still read as a time.
  EXPECT_EQ(out->fields.at("seen"), Value(std::string("2024-03-01T08:00:00Z")));
}

TEST(NormalizeTest, UtcTimestampForms) {
  EXPECT_EQ(to_utc_timestamp("2024-03-01T10:00:00+02:00"), "2024-03-01T08:00:00Z");
  EXPECT_EQ(to_utc_timestamp("2024-03-01 01:30:00.250-0130"), "2024-03-01T03:00:00.250Z");
  EXPECT_EQ(to_utc_timestamp("2024-01-01T00:30:00+01"), "2023-12-31T23:30:00Z");
  EXPECT_EQ(to_utc_timestamp("2024-02-29"), "2024-02-29T00:00:00Z");
  EXPECT_EQ(to_utc_timestamp("2024-02-29T12:00:00Z"), "2024-02-29T12:00:00Z");
  EXPECT_FALSE(to_utc_timestamp("yesterday"));
  EXPECT_FALSE(to_utc_timestamp("2024-13-01"));
}

TEST(BuildTest, UnknownTypeAndIncompleteEntriesNameTheEntry) {
  auto unknown = chain_of("{type: explode}");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kInvalidConfig);
  EXPECT_NE(unknown.error().message().find("transforms[0]"), std::string::npos);
  EXPECT_FALSE(chain_of("{type: filter}"));
  EXPECT_FALSE(chain_of("{type: filter, where: \"a ~ b\"}"));
  EXPECT_FALSE(chain_of("{type: normalize, fields: [a], ops: [shout]}"));
  EXPECT_FALSE(chain_of("{type: rename, collection_to: x}"));
}

}  // namespace
}  // namespace megasync::transforms
