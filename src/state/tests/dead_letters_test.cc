// Dead letters in the state store, and the stored form of their changes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "state/dead_letter_codec.h"
#include "state/memory_store.h"
#include "state/sqlite_store.h"
#include "state/tests/test_support.h"

namespace megasync::state {
namespace {

Change sample_change() {
  Change change;
  change.op = Op::kUpsert;
  change.collection = "orders.eu";
  change.key = {Value{std::string("m-1")}, Value{std::int64_t{-7}}};
  change.fields = {{"payload", Value{Bytes{std::string("\x00\xff\x01zz", 5)}}},
                   {"price", Value{1.0}},
                   {"ratio", Value{std::numeric_limits<double>::infinity()}},
                   {"text", Value{std::string("h\xc3\xa9llo \"q\"")}},
                   {"flag", Value{true}},
                   {"none", Value{}},
                   {"big", Value{std::int64_t{9'007'199'254'740'993}}}};
  change.meta = {{"header:x-trace", "abc"}, {"ttl", "60"}};
  change.position = "0000000000000001/00000002";
  return change;
}

CollectionSchema sample_schema() {
  return CollectionSchema{.name = "orders.eu",
                          .columns = {{"id", ColumnType::kText, false, "varchar(20)"},
                                      {"payload", ColumnType::kBytes, true, ""}},
                          .primary_key = {"id"},
                          .type_system = "postgres"};
}

TEST(DeadLetterCodec, ChangeRoundTripsExactly) {
  const Change change = sample_change();
  const std::string text = encode_dead_change(change, sample_schema());
  Result<DeadChange> back = decode_dead_change(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->change.op, change.op);
  EXPECT_EQ(back->change.collection, change.collection);
  EXPECT_EQ(back->change.key, change.key);
  EXPECT_EQ(back->change.fields, change.fields);
  EXPECT_EQ(back->change.meta, change.meta);
  EXPECT_EQ(back->change.position, change.position);
  ASSERT_TRUE(back->schema);
  EXPECT_EQ(back->schema->primary_key, std::vector<std::string>{"id"});
  ASSERT_EQ(back->schema->columns.size(), 2u);
  EXPECT_EQ(back->schema->columns[0].type, ColumnType::kText);
  EXPECT_FALSE(back->schema->columns[0].nullable);
  EXPECT_EQ(back->schema->columns[0].source_type, "varchar(20)");
  EXPECT_EQ(back->schema->columns[1].type, ColumnType::kBytes);
  EXPECT_EQ(back->schema->type_system, "postgres");
}

TEST(DeadLetterCodec, DeletesNanAndNoSchema) {
  Change change;
  change.op = Op::kDelete;
  change.collection = "t";
  change.key = {Value{std::numeric_limits<double>::quiet_NaN()}, Value{-0.5}};
  Result<DeadChange> back = decode_dead_change(encode_dead_change(change, std::nullopt));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->change.op, Op::kDelete);
  ASSERT_EQ(back->change.key.size(), 2u);
  EXPECT_TRUE(std::isnan(std::get<double>(back->change.key[0])));
  EXPECT_EQ(std::get<double>(back->change.key[1]), -0.5);
  EXPECT_FALSE(back->schema);
}

TEST(DeadLetterCodec, MalformedTextIsAnError) {
  EXPECT_FALSE(decode_dead_change("not json"));
  EXPECT_FALSE(decode_dead_change(R"({"op":"upsert"})"));
  EXPECT_FALSE(decode_dead_change(
      R"({"op":"merge","collection":"t","key":[],"fields":{},"meta":{},"position":""})"));
  EXPECT_FALSE(decode_dead_change(
      R"({"op":"upsert","collection":"t","key":[{"hex":"abc"}],"fields":{},"meta":{},"position":""})"));
  EXPECT_EQ(from_hex("0aFf"), std::string("\x0a\xff", 2));
  EXPECT_FALSE(from_hex("zz"));
}

DeadLetter letter(const std::string& job, const std::string& target, const std::string& id) {
  DeadLetter dead;
  dead.job = job;
  dead.target = target;
  dead.change = sample_change();
  dead.change.key = {Value{id}};
  dead.schema = sample_schema();
  dead.error = "refused: too large";
  dead.attempts = 3;
  return dead;
}

TEST(DeadLetterStore, AddListGetRemoveAndNoteAttempt) {
  auto store = open_memory_store([] { return WallTime(std::chrono::milliseconds(1234)); });
  auto first = store->add_dead_letter(letter("orders", "rabbit", "a"));
  auto second = store->add_dead_letter(letter("orders", "rabbit", "b"));
  auto other = store->add_dead_letter(letter("billing", "nats", "c"));
  ASSERT_TRUE(first && second && other);
  EXPECT_LT(*first, *second);

  auto listed = store->list_dead_letters({.job = "orders"});
  ASSERT_TRUE(listed) << listed.error().message();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, *first);
  EXPECT_EQ((*listed)[0].target, "rabbit");
  EXPECT_EQ((*listed)[0].attempts, 3);
  EXPECT_EQ((*listed)[0].error, "refused: too large");
  EXPECT_EQ((*listed)[0].time, WallTime(std::chrono::milliseconds(1234)));
  EXPECT_EQ((*listed)[0].change.fields, sample_change().fields);
  EXPECT_EQ((*listed)[1].change.key, std::vector<Value>{Value{std::string("b")}});
  auto paged = store->list_dead_letters({.job = "orders", .limit = 1, .offset = 1});
  ASSERT_TRUE(paged);
  ASSERT_EQ(paged->size(), 1u);
  EXPECT_EQ((*paged)[0].id, *second);
  EXPECT_EQ(*store->count_dead_letters("orders"), 2);

  // An id of another job is not this job's.
  auto foreign = store->get_dead_letter("orders", *other);
  ASSERT_TRUE(foreign);
  EXPECT_FALSE(*foreign);
  auto got = store->get_dead_letter("billing", *other);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->target, "nats");
  ASSERT_TRUE((*got)->schema);

  auto noted = store->note_dead_letter_attempt("orders", *first, "still too large");
  ASSERT_TRUE(noted && *noted);
  auto again = store->get_dead_letter("orders", *first);
  ASSERT_TRUE(again && *again);
  EXPECT_EQ((*again)->attempts, 4);
  EXPECT_EQ((*again)->error, "still too large");

  auto removed = store->remove_dead_letter("orders", *first);
  ASSERT_TRUE(removed && *removed);
  auto twice = store->remove_dead_letter("orders", *first);
  ASSERT_TRUE(twice);
  EXPECT_FALSE(*twice);
  EXPECT_FALSE(*store->note_dead_letter_attempt("orders", *first, "x"));
  EXPECT_EQ(*store->count_dead_letters("orders"), 1);
}

TEST(DeadLetterStore, SurvivesReopeningAndIdsAreNotReused) {
  TempDir dir;
  const std::string path = dir.file("megasync.db");
  std::int64_t id = 0;
  {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store) << store.error().message();
    auto added = (*store)->add_dead_letter(letter("orders", "rabbit", "a"));
    ASSERT_TRUE(added);
    id = *added;
    ASSERT_TRUE((*store)->remove_dead_letter("orders", id));
    auto kept = (*store)->add_dead_letter(letter("orders", "rabbit", "b"));
    ASSERT_TRUE(kept);
    EXPECT_GT(*kept, id);
    id = *kept;
  }
  auto store = open_sqlite_store(path);
  ASSERT_TRUE(store);
  auto got = (*store)->get_dead_letter("orders", id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->change.key, std::vector<Value>{Value{std::string("b")}});
}

}  // namespace
}  // namespace megasync::state
