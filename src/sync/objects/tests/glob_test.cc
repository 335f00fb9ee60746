#include "sync/objects/glob.h"

#include <gtest/gtest.h>

namespace megasync::sync::objects {
namespace {

TEST(GlobTest, StarAndQuestionMarkStopAtSlash) {
  EXPECT_TRUE(glob_match("*.log", "a.log"));
  EXPECT_FALSE(glob_match("*.log", "dir/a.log"));
  EXPECT_TRUE(glob_match("dir/*.log", "dir/a.log"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "a/c"));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_FALSE(glob_match("*", "a/b"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
}

TEST(GlobTest, DoubleStarCrossesDirectories) {
  EXPECT_TRUE(glob_match("**/*.log", "a.log"));
  EXPECT_TRUE(glob_match("**/*.log", "x/y/a.log"));
  EXPECT_FALSE(glob_match("**/*.log", "x/y/a.txt"));
  EXPECT_TRUE(glob_match("logs/**", "logs/a/b/c"));
  EXPECT_TRUE(glob_match("a/**/b", "a/b"));
  EXPECT_TRUE(glob_match("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(glob_match("a/**/b", "a/x/yb"));
  EXPECT_TRUE(glob_match("**", "a/b/c"));
  EXPECT_TRUE(glob_match("a**z", "a/b/z"));
}

TEST(GlobTest, BracketsAndEscapes) {
  EXPECT_TRUE(glob_match("file[0-9].txt", "file7.txt"));
  EXPECT_FALSE(glob_match("file[0-9].txt", "filex.txt"));
  EXPECT_TRUE(glob_match("file[!0-9].txt", "filex.txt"));
  EXPECT_TRUE(glob_match("[]]", "]"));
  EXPECT_FALSE(glob_match("a[/]b", "a/b"));
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axb"));
  EXPECT_TRUE(glob_match("a[b", "a[b"));  // unclosed bracket: literal
}

TEST(GlobTest, FilterIncludesThenExcludes) {
  PathFilter all;
  EXPECT_TRUE(all.accepts("anything/at/all"));

  PathFilter filter({"**/*.csv", "docs/**"}, {"**/tmp/**", "docs/private.csv"});
  EXPECT_TRUE(filter.accepts("a.csv"));
  EXPECT_TRUE(filter.accepts("x/y.csv"));
  EXPECT_TRUE(filter.accepts("docs/readme.md"));
  EXPECT_FALSE(filter.accepts("x/y.json"));
  EXPECT_FALSE(filter.accepts("x/tmp/y.csv"));
  EXPECT_FALSE(filter.accepts("docs/private.csv"));
}

}  // namespace
}  // namespace megasync::sync::objects
