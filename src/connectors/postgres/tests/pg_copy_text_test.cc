#include <gtest/gtest.h>

#include "connectors/postgres/copy_text.h"

namespace megasync::connectors::postgres {
namespace {

using Fields = std::vector<std::optional<std::string>>;

Fields parse(std::string_view row) {
  Fields fields;
  Status s = parse_copy_row(row, fields);
  EXPECT_TRUE(s) << row << ": " << (s ? "" : s.error().message());
  return fields;
}

TEST(PgCopyTextTest, SplitsFieldsAndNulls) {
  EXPECT_EQ(parse("1\tabc\t\\N\n"), (Fields{"1", "abc", std::nullopt}));
  EXPECT_EQ(parse("\t\n"), (Fields{"", ""}));
  EXPECT_EQ(parse("only"), (Fields{"only"}));
  // \N is NULL only as the whole field.
  EXPECT_EQ(parse("\\\\N\tx\\N"), (Fields{"\\N", "xN"}));
}

TEST(PgCopyTextTest, UndoesEscapes) {
  EXPECT_EQ(parse("a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh\n"),
            (Fields{std::string("a\tb\nc\rd\\e\bf\fg\vh")}));
  EXPECT_EQ(parse("\\101\\x42\\7x\\x4g"), (Fields{std::string("AB\7x\4g")}));
  EXPECT_EQ(parse("\\\\x00ff"), (Fields{"\\x00ff"}));  // bytea's hex output
}

TEST(PgCopyTextTest, RoundTripsWhatItEncodes) {
  const std::string text = "tab\there\nnew line\\back slash\rcr ünï";
  std::string row;
  append_copy_value(Value(text), row);
  row += '\t';
  append_copy_value(Value(), row);
  row += '\n';
  EXPECT_EQ(parse(row), (Fields{text, std::nullopt}));
}

TEST(PgCopyTextTest, ReusesStorageAcrossRows) {
  Fields fields;
  ASSERT_TRUE(parse_copy_row("1\t2\t3\n", fields));
  ASSERT_TRUE(parse_copy_row("4\t\\N\t6\n", fields));
  EXPECT_EQ(fields, (Fields{"4", std::nullopt, "6"}));
}

TEST(PgCopyTextTest, RejectsATrailingBackslash) {
  Fields fields;
  Status s = parse_copy_row("abc\\", fields);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kPermanent);
}

}  // namespace
}  // namespace megasync::connectors::postgres
