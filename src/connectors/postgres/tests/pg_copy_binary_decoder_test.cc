// The binary COPY decoder (the snapshot's way in) against text_to_value: the
// values a real PostgreSQL 15 server sends for each type's edges, binary
// (its send function) and text (its output function), were recorded from the
// server, and the decoder must make of the bytes exactly the Value that
// text_to_value makes of the text. The e2e snapshot tests read whole tables
// both ways from a live server.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/postgres/copy_binary.h"
#include "connectors/postgres/tests/pg_test_util.h"
#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

using testing::from_hex;
using testing::Wire;

struct Recorded {
  Oid type;
  std::string_view send_hex;    // the send function's bytes
  std::string_view output_hex;  // the output function's text (UTF-8)
};

// SELECT encode(<type>send(v), 'hex'), encode(convert_to(<type>out(v)::text,
// 'UTF8'), 'hex') with TimeZone America/New_York (timestamptz text carries
// offsets, historical ones with seconds).
const Recorded kRecorded[] = {
    {type_oid::kBool, "01", "74"},
    {type_oid::kBool, "00", "66"},
    {type_oid::kInt2, "0000", "30"},
    {type_oid::kInt2, "8000", "2d3332373638"},
    {type_oid::kInt2, "7fff", "3332373637"},
    {type_oid::kInt2, "ffff", "2d31"},
    {type_oid::kInt4, "80000000", "2d32313437343833363438"},
    {type_oid::kInt4, "7fffffff", "32313437343833363437"},
    {type_oid::kInt4, "00000007", "37"},
    {type_oid::kInt8, "8000000000000000", "2d39323233333732303336383534373735383038"},
    {type_oid::kInt8, "7fffffffffffffff", "39323233333732303336383534373735383037"},
    {type_oid::kInt8, "00000002540be400", "3130303030303030303030"},
    {type_oid::kOid, "00000000", "30"},
    {type_oid::kOid, "ffffffff", "34323934393637323935"},
    {type_oid::kFloat4, "3dcccccd", "302e31"},
    {type_oid::kFloat4, "ff7fffff", "2d332e34303238323335652b3338"},
    {type_oid::kFloat4, "00800000", "312e31373534393434652d3338"},
    {type_oid::kFloat4, "00000001", "31652d3435"},
    {type_oid::kFloat4, "00000000", "30"},
    {type_oid::kFloat4, "7f800000", "496e66696e697479"},
    {type_oid::kFloat4, "ff800000", "2d496e66696e697479"},
    {type_oid::kFloat4, "7fc00000", "4e614e"},
    {type_oid::kFloat4, "40490fd0", "332e3134313539"},
    {type_oid::kFloat8, "3fb999999999999a", "302e31"},
    {type_oid::kFloat8, "ffefffffffffffff", "2d312e37393736393331333438363233313537652b333038"},
    {type_oid::kFloat8, "0000000000000001", "35652d333234"},
    {type_oid::kFloat8, "0000000000000000", "30"},
    {type_oid::kFloat8, "7ff0000000000000", "496e66696e697479"},
    {type_oid::kFloat8, "7ff8000000000000", "4e614e"},
    {type_oid::kFloat8, "400199999999999a", "322e32"},
    {type_oid::kNumeric, "0000000000000000", "30"},
    {type_oid::kNumeric, "0000000000000002", "302e3030"},
    {type_oid::kNumeric, "0003000000000005000305872328", "332e3134313539"},
    {type_oid::kNumeric, "000200000000000200021388", "322e3530"},
    {type_oid::kNumeric, "000200000000000204d215e0", "313233342e3536"},
    {type_oid::kNumeric, "00010001000000000001", "3130303030"},
    {type_oid::kNumeric, "00010002000000000001", "313030303030303030"},
    {type_oid::kNumeric, "000b00074000000a000c0d801ed204d2162e23340d801ed204d2162e2328",
     "2d3132333435363738393031323334353637383930313233343536373839302e31323334353637383930"},
    {type_oid::kNumeric, "0001fffd0000000a0064", "302e30303030303030303031"},
    {type_oid::kNumeric, "0001fffe0000000503e8", "302e3030303031"},
    {type_oid::kNumeric, "0001fffa4000001503e8",
     "2d302e303030303030303030303030303030303030303031"},
    {type_oid::kNumeric, "000b00070000000a0063270f270f270f270f270f270f270f270f270f26ac",
     "3939393939393939393939393939393939393939393939393939393939392e39393939393939393939"},
    {type_oid::kNumeric, "00000000c0000000", "4e614e"},
    {type_oid::kNumeric, "00000000d0000020", "496e66696e697479"},
    {type_oid::kNumeric, "00000000f0000020", "2d496e66696e697479"},
    {type_oid::kNumeric, "0001fffb000000140001", "302e3030303030303030303030303030303030303031"},
    {type_oid::kNumeric, "0001000000000003000c", "31322e303030"},
    {type_oid::kNumeric, "0001ffff000000011388", "302e35"},
    {type_oid::kText, "", ""},
    {type_oid::kText, "68656c6c6f", "68656c6c6f"},
    {type_oid::kText, "74616209206e6c0a20c3bc6ec3af63c3b6646520f09f9880",
     "74616209206e6c0a20c3bc6ec3af63c3b6646520f09f9880"},
    {type_oid::kVarchar, "76617263686172", "76617263686172"},
    {type_oid::kBpchar, "6162202020", "6162202020"},
    {type_oid::kJson, "7b2262223a20312c202261223a205b312c20322e35305d7d",
     "7b2262223a20312c202261223a205b312c20322e35305d7d"},
    {type_oid::kJsonb, "017b2261223a205b312c20322e35305d2c202262223a20317d",
     "7b2261223a205b312c20322e35305d2c202262223a20317d"},
    {type_oid::kJsonb, "016e756c6c", "6e756c6c"},
    {type_oid::kBytea, "0102ff", "5c78303130326666"},
    {type_oid::kBytea, "", "5c78"},
    {type_oid::kBytea, "00", "5c783030"},
    {type_oid::kUuid, "a0eebc999c0b4ef8bb6d6bb9bd380a11",
     "61306565626339392d396330622d346566382d626236642d366262396264333830613131"},
    {type_oid::kUuid, "ffffffffffffffffffffffffffffffff",
     "66666666666666662d666666662d666666662d666666662d666666666666666666666666"},
    {type_oid::kDate, "00002279", "323032342d30322d3239"},
    {type_oid::kDate, "fff4dbf9", "303030312d30312d3031"},
    {type_oid::kDate, "fff49d7b", "303034342d30332d3135204243"},
    {type_oid::kDate, "002c95d3", "393939392d31322d3331"},
    {type_oid::kDate, "7fffffff", "696e66696e697479"},
    {type_oid::kDate, "80000000", "2d696e66696e697479"},
    {type_oid::kDate, "ffda97cd", "343731332d30312d3031204243"},
    {type_oid::kDate, "7fda970c", "353837343839372d31322d3331"},
    {type_oid::kDate, "ffffd533", "313937302d30312d3031"},
    {type_oid::kDate, "ffffffff", "313939392d31322d3331"},
    {type_oid::kTime, "0000000000000000", "30303a30303a3030"},
    {type_oid::kTime, "0000000b187d38e0", "31333a31343a31352e35"},
    {type_oid::kTime, "000000141dd75fff", "32333a35393a35392e393939393939"},
    {type_oid::kTime, "000000141dd76000", "32343a30303a3030"},
    {type_oid::kTime, "00000000dde878ca", "30313a30323a30332e3030303031"},
    {type_oid::kTimestamp, "0002b0ec8517d580",
     "323032342d30312d30322030333a30343a30352e313233343536"},
    {type_oid::kTimestamp, "ff1fe2ffc59c6000", "303030312d30312d30312030303a30303a3030"},
    {type_oid::kTimestamp, "0380e70b913b7fff",
     "393939392d31322d33312032333a35393a35392e393939393939"},
    {type_oid::kTimestamp, "7fffffffffffffff", "696e66696e697479"},
    {type_oid::kTimestamp, "8000000000000000", "2d696e66696e697479"},
    {type_oid::kTimestamp, "ff1fc63d1bb12000", "303030312d30312d30312030303a30303a3030204243"},
    {type_oid::kTimestamp, "fffffffffff85ee0", "313939392d31322d33312032333a35393a35392e35"},
    {type_oid::kTimestamp, "7fffff5bb3b29fff",
     "3239343237362d31322d33312032333a35393a35392e393939393939"},
    {type_oid::kTimestamp, "fd0f7fbdaf17e000", "343731332d30312d30312030303a30303a3030204243"},
    {type_oid::kTimestampTz, "0002b0ec8517d3b8",
     "323032342d30312d30312032323a30343a30352e3132332d3035"},
    {type_oid::kTimestampTz, "ff1fe2ffc59c6000",
     "303030312d31322d33312031393a30333a35382d30343a35363a3032204243"},
    {type_oid::kTimestampTz, "0004441a28a3bb20",
     "323033382d30312d31382031363a34343a30382e352d3035"},
    {type_oid::kTimestampTz, "7fffffffffffffff", "696e66696e697479"},
    {type_oid::kTimestampTz, "8000000000000000", "2d696e66696e697479"},
    {type_oid::kTimestampTz, "fff2fb4e62396400", "313838332d31312d31382031323a30303a30302d3035"},
    {type_oid::kTimestampTz, "ff1af9e8fb46d000",
     "303034342d30332d31352030373a30333a35382d30343a35363a3032204243"},
    {type_oid::kTimestampTz, "0000000000000000", "313939392d31322d33312031393a30303a30302d3035"},
};

std::string header() {
  return Wire().raw(std::string_view("PGCOPY\n\377\r\n\0", 11)).i32(0).i32(0);
}

// The values of every row of `messages`, or the error.
Result<std::vector<std::vector<Value>>> read_all(BinaryRowDecoder& decoder,
                                                 const std::vector<std::string>& messages) {
  std::vector<std::vector<Value>> rows;
  for (const std::string& message : messages) {
    Status s = decoder.read(message, [&](std::vector<Value>& values) -> Status {
      rows.push_back(values);
      return ok();
    });
    if (!s) {
      return fail(s.error());
    }
  }
  return rows;
}

TEST(PgCopyBinaryDecoder, MakesOfEachTypesBytesWhatTextToValueMakesOfItsText) {
  for (const Recorded& recorded : kRecorded) {
    const std::string bytes = from_hex(recorded.send_hex);
    const std::string text = from_hex(recorded.output_hex);
    SCOPED_TRACE(::testing::Message() << "type " << recorded.type << " text " << text);
    std::optional<BinaryRowDecoder> decoder = BinaryRowDecoder::make({recorded.type});
    ASSERT_TRUE(decoder.has_value());
    const std::string row =
        Wire().i16(1).i32(static_cast<std::int32_t>(bytes.size())).raw(bytes).data();
    auto rows = read_all(*decoder, {header() + row});
    ASSERT_TRUE(rows.has_value()) << rows.error().message();
    ASSERT_EQ(rows->size(), 1u);
    Result<Value> expected = text_to_value(recorded.type, text);
    ASSERT_TRUE(expected.has_value()) << expected.error().message();
    const Value& got = (*rows)[0][0];
    if (const double* d = std::get_if<double>(&*expected); d != nullptr && std::isnan(*d)) {
      ASSERT_TRUE(std::holds_alternative<double>(got));
      EXPECT_TRUE(std::isnan(std::get<double>(got)));
      continue;
    }
    EXPECT_EQ(got, *expected);
  }
}

TEST(PgCopyBinaryDecoder, RowsNullsAndTheTrailerOverSeveralMessages) {
  std::optional<BinaryRowDecoder> decoder =
      BinaryRowDecoder::make({type_oid::kInt4, type_oid::kText});
  ASSERT_TRUE(decoder.has_value());
  // The server sends the header with the first row, then a row a message;
  // two rows in one message read as well.
  const std::string first = header() + Wire().i16(2).i32(4).i32(7).i32(2).raw("ab").data();
  const std::string two = Wire().i16(2).i32(-1).i32(0).i16(2).i32(4).i32(-5).i32(-1).data();
  auto rows = read_all(*decoder, {first, two, Wire().i16(-1)});
  ASSERT_TRUE(rows.has_value()) << rows.error().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0], (std::vector<Value>{std::int64_t{7}, std::string("ab")}));
  EXPECT_EQ((*rows)[1], (std::vector<Value>{Value(), std::string()}));
  EXPECT_EQ((*rows)[2], (std::vector<Value>{std::int64_t{-5}, Value()}));
}

TEST(PgCopyBinaryDecoder, MalformedInputIsAPermanentErrorSayingWhat) {
  auto error_of = [](std::vector<Oid> types, const std::vector<std::string>& messages) {
    std::optional<BinaryRowDecoder> decoder = BinaryRowDecoder::make(std::move(types));
    EXPECT_TRUE(decoder.has_value());
    auto rows = read_all(*decoder, messages);
    EXPECT_FALSE(rows.has_value());
    if (rows) {
      return std::string();
    }
    EXPECT_EQ(rows.error().code(), ErrorCode::kPermanent);
    return rows.error().message();
  };
  EXPECT_NE(error_of({type_oid::kInt4}, {"COPY text\n"}).find("no PGCOPY signature"),
            std::string::npos);
  EXPECT_NE(error_of({type_oid::kInt4}, {header() + Wire().i16(2).i32(4).i32(1).data()})
                .find("a row of 2 fields, expected 1"),
            std::string::npos);
  EXPECT_NE(error_of({type_oid::kInt4}, {header() + Wire().i16(1).i32(4).i16(1).data()})
                .find("a short row"),
            std::string::npos);
  // An int4 of 8 bytes; a numeric digit past 9999; a time past 24:00.
  EXPECT_NE(
      error_of({type_oid::kInt4}, {header() + Wire().i16(1).i32(8).i64(1).data()}).find("column 1"),
      std::string::npos);
  EXPECT_FALSE(
      error_of({type_oid::kNumeric},
               {header() + Wire().i16(1).i32(10).i16(1).i16(0).i16(0).i16(0).i16(10000).data()})
          .empty());
  EXPECT_FALSE(
      error_of({type_oid::kTime}, {header() + Wire().i16(1).i32(8).i64(86'400'000'001).data()})
          .empty());
  EXPECT_NE(error_of({type_oid::kInt4}, {header() + Wire().i16(-1).data(), Wire().i16(1)})
                .find("data after the trailer"),
            std::string::npos);
}

TEST(PgCopyBinaryDecoder, TablesWithATypeWithoutDecoderAreReadAsText) {
  EXPECT_FALSE(BinaryRowDecoder::make({type_oid::kInt4, type_oid::kInterval}).has_value());
  EXPECT_FALSE(BinaryRowDecoder::make({type_oid::kInt4Array}).has_value());
  EXPECT_FALSE(BinaryRowDecoder::make({}).has_value());
  EXPECT_TRUE(BinaryRowDecoder::make({type_oid::kNumeric, type_oid::kTimestampTz, type_oid::kUuid})
                  .has_value());
}

}  // namespace
}  // namespace megasync::connectors::postgres
