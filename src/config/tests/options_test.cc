#include "config/options.h"

#include <gtest/gtest.h>

#include "config/suggest.h"

namespace megasync::config {
namespace {

TEST(OptionsTest, Getters) {
  YAML::Node values = YAML::Load(R"(name: orders
count: -12
flag: yes
wait: 1m30s
size: 2KiB
one: single
many: [a, b]
obj: {inner: 3}
list: [{x: 1}, {x: 2}]
raw: {any: [thing]}
empty:
)");
  Options options(values, Location{"f.yaml", 4, 2, "jobs.j"});
  EXPECT_TRUE(options.has("name"));
  EXPECT_FALSE(options.has("missing"));
  EXPECT_FALSE(options.has("empty"));  // null counts as unset
  EXPECT_EQ(options.string("name"), "orders");
  EXPECT_EQ(options.integer("count"), -12);
  EXPECT_TRUE(options.boolean("flag"));
  EXPECT_EQ(options.duration("wait"), std::chrono::seconds(90));
  EXPECT_EQ(options.bytes("size"), 2048u);
  EXPECT_EQ(options.strings("one"), std::vector<std::string>{"single"});
  EXPECT_EQ(options.strings("many"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(options.strings("missing").empty());
  EXPECT_EQ(options.object("obj").integer("inner"), 3);
  EXPECT_FALSE(options.object("missing").has("inner"));
  std::vector<Options> list = options.objects("list");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].integer("x"), 2);
  EXPECT_TRUE(options.objects("missing").empty());
  EXPECT_TRUE(options.node("raw")["any"].IsSequence());
  EXPECT_FALSE(options.node("missing").IsDefined());
  EXPECT_TRUE(options.values().IsMap());
}

TEST(OptionsTest, Locations) {
  YAML::Node values = YAML::Load("a: 1\nobj:\n  b: 2\nlist:\n  - {c: 3}\n");
  values["added"] = YAML::Node("default");  // no mark, like a default
  Options options(values, Location{"f.yaml", 10, 3, "jobs.j"});
  EXPECT_EQ(options.location().line, 10);
  EXPECT_EQ(options.location().key_path, "jobs.j");
  Location a = options.location("a");
  EXPECT_EQ(a.file, "f.yaml");
  EXPECT_EQ(a.line, 1);
  EXPECT_EQ(a.column, 4);
  EXPECT_EQ(a.key_path, "jobs.j.a");
  Location added = options.location("added");
  EXPECT_EQ(added.line, 10);  // falls back to the mapping
  EXPECT_EQ(added.key_path, "jobs.j.added");
  Location b = options.object("obj").location("b");
  EXPECT_EQ(b.line, 3);
  EXPECT_EQ(b.key_path, "jobs.j.obj.b");
  Location c = options.objects("list")[0].location("c");
  EXPECT_EQ(c.line, 5);
  EXPECT_EQ(c.key_path, "jobs.j.list[0].c");
}

TEST(SuggestTest, EditDistance) {
  EXPECT_EQ(detail::edit_distance("", ""), 0u);
  EXPECT_EQ(detail::edit_distance("abc", ""), 3u);
  EXPECT_EQ(detail::edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(detail::edit_distance("intervall", "interval"), 1u);
}

TEST(SuggestTest, ClosestWithinThreshold) {
  const std::vector<std::string> keys = {"interval", "timeout", "batch_size", "enabled"};
  EXPECT_EQ(detail::closest("intervl", keys), "interval");
  EXPECT_EQ(detail::closest("batchsize", keys), "batch_size");
  EXPECT_EQ(detail::closest("tmeout", keys), "timeout");
  EXPECT_EQ(detail::closest("completely_else", keys), std::nullopt);
  EXPECT_EQ(detail::closest("interval", keys), std::nullopt);  // not a typo
  // Long words allow len/3 edits: "descriptoin_text" (16) -> up to 5.
  EXPECT_EQ(detail::closest("descriptoin_txt", {"description_text"}), "description_text");
  EXPECT_EQ(detail::did_you_mean("jbos", {"jobs", "api"}), "; did you mean 'jobs'?");
  EXPECT_EQ(detail::did_you_mean("zzzzzz", {"jobs"}), "");
}

}  // namespace
}  // namespace megasync::config
