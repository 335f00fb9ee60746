#include "sync/objects/plan.h"

#include <gtest/gtest.h>

namespace megasync::sync::objects {
namespace {

using std::chrono::milliseconds;

ObjectInfo object(const std::string& path, std::uint64_t size, std::int64_t mtime_ms,
                  std::string sha256 = "") {
  ObjectInfo info;
  info.path = path;
  info.size = size;
  info.mtime = WallTime(milliseconds(mtime_ms));
  info.sha256 = std::move(sha256);
  return info;
}

ObjectMap objects(std::initializer_list<ObjectInfo> list) {
  ObjectMap map;
  for (const ObjectInfo& info : list) {
    map.emplace(info.path, info);
  }
  return map;
}

std::vector<std::string> paths(const Plan& plan, ActionKind kind) {
  std::vector<std::string> out;
  for (const Action& action : plan.actions) {
    if (action.kind == kind) {
      out.push_back(action.path);
    }
  }
  return out;
}

TEST(PlanTest, CopiesMissingReplacesChangedKeepsUnchanged) {
  const ObjectMap source = objects({object("new", 10, 1), object("same", 5, 2),
                                    object("bigger", 7, 3), object("touched", 4, 4)});
  const ObjectMap target = objects({object("same", 5, 2), object("bigger", 6, 3),
                                    object("touched", 4, 9), object("extra", 1, 1)});
  const Plan plan = build_plan(source, target, {});
  EXPECT_EQ(paths(plan, ActionKind::kCopy), std::vector<std::string>{"new"});
  EXPECT_EQ(paths(plan, ActionKind::kReplace), (std::vector<std::string>{"bigger", "touched"}));
  EXPECT_TRUE(paths(plan, ActionKind::kDelete).empty());  // delete is off by default
  EXPECT_EQ(plan.bytes, 10u + 7u + 4u);
  EXPECT_EQ(plan.unchanged, 1);
  EXPECT_EQ(plan.target_count, 4);
}

TEST(PlanTest, MtimeIsComparedToTheMillisecond) {
  ObjectInfo a = object("f", 1, 1000);
  ObjectInfo b = a;
  b.mtime += std::chrono::microseconds(999);  // same millisecond
  EXPECT_TRUE(same_object(a, b, false));
  b.mtime += std::chrono::microseconds(1);
  EXPECT_FALSE(same_object(a, b, false));
}

TEST(PlanTest, DeletesExtrasWhenAsked) {
  const ObjectMap source = objects({object("a", 1, 1), object("b", 1, 1), object("c", 1, 1)});
  const ObjectMap target =
      objects({object("a", 1, 1), object("b", 1, 1), object("c", 1, 1), object("gone", 1, 1)});
  PlanOptions options;
  options.delete_extra = true;
  const Plan plan = build_plan(source, target, options);
  EXPECT_EQ(paths(plan, ActionKind::kDelete), std::vector<std::string>{"gone"});
  EXPECT_EQ(plan.deletions, 1);
  EXPECT_TRUE(check_delete_limit(plan, options));  // 1 of 4 is under 50%
}

TEST(PlanTest, RefusesDeletingMoreThanMaxDeleteUnlessForced) {
  const ObjectMap source = objects({object("a", 1, 1)});
  const ObjectMap target =
      objects({object("a", 1, 1), object("b", 1, 1), object("c", 1, 1), object("d", 1, 1)});
  PlanOptions options;
  options.delete_extra = true;
  const Plan plan = build_plan(source, target, options);
  ASSERT_EQ(plan.deletions, 3);
  Status refused = check_delete_limit(plan, options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(refused.error().message().find("3 of the target's 4 objects"), std::string::npos);
  EXPECT_NE(refused.error().message().find("force: true"), std::string::npos);

  options.max_delete_percent = 75;  // exactly 75%: allowed
  EXPECT_TRUE(check_delete_limit(plan, options));
  options.max_delete_percent = 50;
  options.force = true;
  EXPECT_TRUE(check_delete_limit(plan, options));
}

TEST(PlanTest, EmptySourceWithDeleteIsRefused) {
  PlanOptions options;
  options.delete_extra = true;
  const Plan plan = build_plan({}, objects({object("a", 1, 1)}), options);
  EXPECT_FALSE(check_delete_limit(plan, options));
}

TEST(PlanTest, FilterLimitsBothSides) {
  const ObjectMap source = objects({object("a.csv", 1, 1), object("skip.tmp", 1, 1)});
  const ObjectMap target = objects({object("old.csv", 1, 1), object("keep.tmp", 1, 1)});
  PlanOptions options;
  options.delete_extra = true;
  options.force = true;
  options.filter = PathFilter({}, {"**/*.tmp"});
  const Plan plan = build_plan(source, target, options);
  EXPECT_EQ(paths(plan, ActionKind::kCopy), std::vector<std::string>{"a.csv"});
  // keep.tmp is excluded, so it is neither counted nor deleted.
  EXPECT_EQ(paths(plan, ActionKind::kDelete), std::vector<std::string>{"old.csv"});
  EXPECT_EQ(plan.target_count, 1);

  options.filter = PathFilter({"**/*.csv"}, {});
  EXPECT_EQ(paths(build_plan(source, target, options), ActionKind::kCopy),
            std::vector<std::string>{"a.csv"});
}

TEST(PlanTest, ChecksumModeComparesDigestsNotMtimes) {
  PlanOptions options;
  options.checksum = true;
  const ObjectMap source = objects({object("same", 3, 1, "aa"), object("edited", 3, 1, "bb"),
                                    object("touched", 3, 1, "cc"), object("resized", 4, 1)});
  const ObjectMap target = objects({object("same", 3, 1, "aa"), object("edited", 3, 1, "b2"),
                                    object("touched", 3, 99, "cc"), object("resized", 3, 1)});
  // Only equal-size pairs need reading.
  EXPECT_EQ(paths_needing_digest(source, target, options),
            (std::vector<std::string>{"edited", "same", "touched"}));
  const Plan plan = build_plan(source, target, options);
  EXPECT_EQ(paths(plan, ActionKind::kReplace), (std::vector<std::string>{"edited", "resized"}));

  // Without checksum, a same-size same-mtime edit is not seen (the quick check).
  options.checksum = false;
  EXPECT_EQ(paths(build_plan(source, target, options), ActionKind::kReplace),
            (std::vector<std::string>{"resized", "touched"}));
  EXPECT_TRUE(paths_needing_digest(source, target, options).empty());
}

TEST(PlanTest, CompareReportsMissingExtraDiffer) {
  const ObjectMap source = objects({object("a", 1, 1), object("b", 2, 1)});
  const ObjectMap target = objects({object("b", 3, 1), object("c", 1, 1)});
  const Differences diff = compare(source, target, {});
  EXPECT_EQ(diff.missing, std::vector<std::string>{"a"});
  EXPECT_EQ(diff.differ, std::vector<std::string>{"b"});
  EXPECT_EQ(diff.extra, std::vector<std::string>{"c"});
}

TEST(PlanTest, ParsesPercentages) {
  EXPECT_EQ(parse_percentage("50%").value(), 50);
  EXPECT_EQ(parse_percentage("100").value(), 100);
  EXPECT_EQ(parse_percentage("0%").value(), 0);
  EXPECT_FALSE(parse_percentage("150%"));
  EXPECT_FALSE(parse_percentage("half"));
  EXPECT_FALSE(parse_percentage(""));
}

}  // namespace
}  // namespace megasync::sync::objects
