#include "core/net_changes.h"

#include <gtest/gtest.h>

namespace megasync {
namespace {

Change upsert(std::int64_t id, Fields fields) {
  return Change{.op = Op::kUpsert, .collection = "t", .key = {Value(id)}, .fields = fields};
}

Change remove(std::int64_t id) {
  return Change{.op = Op::kDelete, .collection = "t", .key = {Value(id)}};
}

TEST(NetChanges, TheLastChangeOfAKeyWinsAndUpsertsMerge) {
  NetChanges net;
  fold_change(upsert(1, {{"a", Value(std::int64_t{1})}, {"b", Value(std::string("x"))}}), net);
  fold_change(upsert(1, {{"a", Value(std::int64_t{2})}}), net);  // b unread: stays "x"
  fold_change(upsert(2, {{"a", Value(std::int64_t{5})}}), net);
  fold_change(remove(2), net);
  fold_change(remove(3), net);
  fold_change(upsert(3, {{"a", Value(std::int64_t{9})}}), net);  // re-inserted after a delete

  const NetRows& rows = net.at("t");
  ASSERT_EQ(rows.size(), 3u);
  const NetRow& one = rows.at(encode_key({Value(std::int64_t{1})}));
  EXPECT_FALSE(one.deleted);
  EXPECT_EQ(one.fields.at("a"), Value(std::int64_t{2}));
  EXPECT_EQ(one.fields.at("b"), Value(std::string("x")));
  EXPECT_TRUE(rows.at(encode_key({Value(std::int64_t{2})})).deleted);
  const NetRow& three = rows.at(encode_key({Value(std::int64_t{3})}));
  EXPECT_FALSE(three.deleted);
  EXPECT_EQ(three.fields.size(), 1u);
}

}  // namespace
}  // namespace megasync
