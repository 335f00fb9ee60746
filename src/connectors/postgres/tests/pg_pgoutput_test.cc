#include <gtest/gtest.h>

#include <vector>

#include "connectors/postgres/pgoutput.h"
#include "connectors/postgres/tests/pg_test_util.h"

namespace megasync::connectors::postgres {
namespace {

using testing::from_hex;
using testing::Wire;

// 2024-01-01T00:00:00Z in microseconds since 2000-01-01.
constexpr PgTimestamp kTs = 757382400000000;

template <typename T>
T decode_as(const std::string& bytes) {
  auto message = decode_pgoutput(bytes);
  EXPECT_TRUE(message) << message.error().message();
  if (!message) {
    return T{};
  }
  EXPECT_TRUE(std::holds_alternative<T>(*message));
  return std::holds_alternative<T>(*message) ? std::get<T>(*message) : T{};
}

TupleValue text(std::string s) {
  return {TupleValue::Kind::kText, std::move(s)};
}
const TupleValue kNull{TupleValue::Kind::kNull, ""};
const TupleValue kToast{TupleValue::Kind::kUnchangedToast, ""};

// The hand-built vectors of the protocol notes (public.t(id int4 PK, name text)).
TEST(PgOutputTest, DecodesReferenceVectors) {
  auto begin = decode_as<BeginMessage>(from_hex("4200000000016b37480002b0d5d4e940000000022b"));
  EXPECT_EQ(begin.final_lsn, 0x16B3748u);
  EXPECT_EQ(begin.commit_time, kTs);
  EXPECT_EQ(begin.xid, 555u);

  auto commit =
      decode_as<CommitMessage>(from_hex("430000000000016b374800000000016b37780002b0d5d4e94000"));
  EXPECT_EQ(commit.flags, 0);
  EXPECT_EQ(commit.commit_lsn, 0x16B3748u);
  EXPECT_EQ(commit.end_lsn, 0x16B3778u);
  EXPECT_EQ(commit.commit_time, kTs);

  auto relation = decode_as<RelationMessage>(from_hex(
      "52000040017075626c69630074006400020169640000000017ffffffff006e616d650000000019ffffffff"));
  EXPECT_EQ(relation.oid, 16385u);
  EXPECT_EQ(relation.namespace_name, "public");
  EXPECT_EQ(relation.name, "t");
  EXPECT_EQ(relation.replica_identity, 'd');
  ASSERT_EQ(relation.columns.size(), 2u);
  EXPECT_TRUE(relation.columns[0].key());
  EXPECT_EQ(relation.columns[0].name, "id");
  EXPECT_EQ(relation.columns[0].type_oid, 23u);
  EXPECT_EQ(relation.columns[0].type_modifier, -1);
  EXPECT_FALSE(relation.columns[1].key());
  EXPECT_EQ(relation.columns[1].name, "name");
  EXPECT_EQ(relation.columns[1].type_oid, 25u);

  auto insert = decode_as<InsertMessage>(from_hex("49000040014e00027400000001316e"));
  EXPECT_EQ(insert.relation, 16385u);
  EXPECT_EQ(insert.new_tuple, (TupleData{text("1"), kNull}));

  auto update =
      decode_as<UpdateMessage>(from_hex("55000040014b00027400000001316e4e000274000000013275"));
  EXPECT_EQ(update.relation, 16385u);
  EXPECT_EQ(update.old_kind, 'K');
  ASSERT_TRUE(update.old_tuple);
  EXPECT_EQ(*update.old_tuple, (TupleData{text("1"), kNull}));
  EXPECT_EQ(update.new_tuple, (TupleData{text("2"), kToast}));

  auto del = decode_as<DeleteMessage>(from_hex("44000040014b00027400000001316e"));
  EXPECT_EQ(del.old_kind, 'K');
  EXPECT_EQ(del.old_tuple, (TupleData{text("1"), kNull}));

  auto truncate = decode_as<TruncateMessage>(from_hex("5400000002000000400100004006"));
  EXPECT_EQ(truncate.relations, (std::vector<Oid>{16385, 16390}));
  EXPECT_FALSE(truncate.cascade());

  auto origin = decode_as<OriginMessage>(from_hex("4f000000000300006073796e635f6e6f64655f6200"));
  EXPECT_EQ(origin.commit_lsn, 0x3000060u);
  EXPECT_EQ(origin.name, "sync_node_b");
}

TEST(PgOutputTest, DecodesUpdateWithoutOldTupleAndWithOldRow) {
  auto plain =
      decode_as<UpdateMessage>(Wire().ch('U').u32(7).ch('N').i16(2).text("5").text("x").data());
  EXPECT_EQ(plain.old_kind, '\0');
  EXPECT_FALSE(plain.old_tuple);
  EXPECT_EQ(plain.new_tuple, (TupleData{text("5"), text("x")}));

  auto full = decode_as<UpdateMessage>(Wire()
                                           .ch('U')
                                           .u32(7)
                                           .ch('O')
                                           .i16(2)
                                           .text("5")
                                           .text("old")
                                           .ch('N')
                                           .i16(2)
                                           .text("5")
                                           .toast()
                                           .data());
  EXPECT_EQ(full.old_kind, 'O');
  EXPECT_EQ(*full.old_tuple, (TupleData{text("5"), text("old")}));
  EXPECT_EQ(full.new_tuple, (TupleData{text("5"), kToast}));

  auto del = decode_as<DeleteMessage>(Wire().ch('D').u32(7).ch('O').i16(1).text("").data());
  EXPECT_EQ(del.old_kind, 'O');
  EXPECT_EQ(del.old_tuple, (TupleData{text("")}));
}

TEST(PgOutputTest, DecodesTypeTruncateOptionsMessageAndBinaryValues) {
  auto type = decode_as<TypeMessage>(Wire().ch('Y').u32(16400).str("public").str("mood").data());
  EXPECT_EQ(type.oid, 16400u);
  EXPECT_EQ(type.namespace_name, "public");
  EXPECT_EQ(type.name, "mood");

  auto truncate = decode_as<TruncateMessage>(Wire().ch('T').i32(1).u8(3).u32(9).data());
  EXPECT_TRUE(truncate.cascade());
  EXPECT_TRUE(truncate.restart_identity());

  auto message = decode_as<LogicalMessage>(
      Wire().ch('M').u8(1).u64(0x10).str("app").i32(3).raw(std::string("a\0b", 3)).data());
  EXPECT_TRUE(message.transactional);
  EXPECT_EQ(message.lsn, 0x10u);
  EXPECT_EQ(message.prefix, "app");
  EXPECT_EQ(message.content, std::string("a\0b", 3));

  auto insert = decode_as<InsertMessage>(
      Wire().ch('I').u32(1).ch('N').i16(1).ch('b').i32(2).raw("\x01\x02").data());
  EXPECT_EQ(insert.new_tuple[0].kind, TupleValue::Kind::kBinary);
  EXPECT_EQ(insert.new_tuple[0].data, "\x01\x02");

  // Relation with a namespace of "" (pg_catalog), a column typmod and replica identity full.
  auto relation = decode_as<RelationMessage>(Wire()
                                                 .ch('R')
                                                 .u32(5)
                                                 .str("")
                                                 .str("r")
                                                 .ch('f')
                                                 .i16(1)
                                                 .u8(1)
                                                 .str("v")
                                                 .u32(1043)
                                                 .i32(24)
                                                 .data());
  EXPECT_EQ(relation.namespace_name, "");
  EXPECT_EQ(relation.replica_identity, 'f');
  EXPECT_EQ(relation.columns[0].type_modifier, 24);
}

// Every message, cut at every byte, fails cleanly (run under ASan in CI).
TEST(PgOutputTest, EveryTruncationFails) {
  std::vector<std::string> messages = {
      from_hex("4200000000016b37480002b0d5d4e940000000022b"),
      from_hex("430000000000016b374800000000016b37780002b0d5d4e94000"),
      from_hex("4f000000000300006073796e635f6e6f64655f6200"),
      from_hex(
          "52000040017075626c69630074006400020169640000000017ffffffff006e616d650000000019ffffffff"),
      from_hex("49000040014e00027400000001316e"),
      from_hex("55000040014b00027400000001316e4e000274000000013275"),
      from_hex("44000040014b00027400000001316e"),
      from_hex("5400000002000000400100004006"),
      Wire().ch('Y').u32(16400).str("public").str("mood"),
      Wire().ch('U').u32(7).ch('O').i16(2).text("5").text("old").ch('N').i16(2).text("5").toast(),
      Wire().ch('M').u8(1).u64(0x10).str("app").i32(3).raw("abc"),
      Wire().ch('I').u32(1).ch('N').i16(1).ch('b').i32(2).raw("\x01\x02"),
  };
  for (const auto& full : messages) {
    ASSERT_TRUE(decode_pgoutput(full)) << "full message of type " << full[0];
    for (std::size_t n = 0; n < full.size(); ++n) {
      auto message = decode_pgoutput(std::string_view(full).substr(0, n));
      ASSERT_FALSE(message) << "type " << full[0] << " cut at " << n;
      EXPECT_EQ(message.error().code(), ErrorCode::kPermanent);
      const std::string& text = message.error().message();
      EXPECT_EQ(text.rfind("pgoutput: ", 0), 0u) << text;
      if (n > 0) {
        EXPECT_NE(text.find("truncated"), std::string::npos) << text;
      }
    }
  }
}

// Any byte of a valid message replaced by an extreme value decodes or fails,
// never reads outside the buffer (ASan) nor allocates for a bogus count.
TEST(PgOutputTest, CorruptedBytesNeverCrash) {
  std::vector<std::string> messages = {
      from_hex(
          "52000040017075626c69630074006400020169640000000017ffffffff006e616d650000000019ffffffff"),
      from_hex("55000040014b00027400000001316e4e000274000000013275"),
      from_hex("5400000002000000400100004006"),
      Wire().ch('M').u8(1).u64(0x10).str("app").i32(3).raw("abc"),
  };
  for (const auto& original : messages) {
    for (std::size_t i = 0; i < original.size(); ++i) {
      for (char replacement : {'\x00', '\x7f', '\x80', '\xff'}) {
        std::string bytes = original;
        bytes[i] = replacement;
        auto message = decode_pgoutput(bytes);
        if (!message) {
          EXPECT_EQ(message.error().code(), ErrorCode::kPermanent);
        }
      }
    }
  }
}

TEST(PgOutputTest, TruncationErrorNamesMessageAndOffset) {
  auto message = decode_pgoutput(from_hex("49000040014e0002740000"));
  ASSERT_FALSE(message);
  EXPECT_EQ(message.error().message(),
            "pgoutput: truncated Insert message at byte 9 (reading tuple value length; 2 bytes "
            "left)");
}

TEST(PgOutputTest, RejectsMalformedMessages) {
  struct Case {
    std::string bytes;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"", "pgoutput: empty message"},
      {"?", "unknown message type 0x3f"},
      {"S", "protocol version 2 or 3"},
      {Wire().ch('B').u64(1).i64(2).u32(3).u8(0),
       "invalid Begin message at byte 21: 1 unexpected "
       "trailing bytes"},
      {Wire().ch('I').u32(1).ch('X').i16(0),
       "invalid Insert message at byte 5: expected tuple "
       "marker 'N', got 0x58"},
      {Wire().ch('I').u32(1).ch('N').i16(1).ch('z'), "unknown tuple value kind 0x7a"},
      {Wire().ch('I').u32(1).ch('N').i16(-1), "negative column count -1"},
      {Wire().ch('I').u32(1).ch('N').i16(1).ch('t').i32(-5), "negative value length -5"},
      {Wire().ch('U').u32(1).ch('Q'), "expected tuple marker 'K', 'O' or 'N'"},
      {Wire().ch('U').u32(1).ch('K').i16(0).ch('K').i16(0), "expected tuple marker 'N'"},
      {Wire().ch('D').u32(1).ch('N').i16(0), "expected tuple marker 'K' or 'O'"},
      {Wire().ch('T').i32(-1).u8(0), "negative relation count"},
      {Wire().ch('T').i32(1000000).u8(0).u32(1), "truncated Truncate message"},
      {Wire().ch('R').u32(1).str("s").str("t").ch('d').i16(-2), "negative column count"},
      {Wire().ch('M').u8(0).u64(0).str("p").i32(-1), "negative content length"},
      // A protocol v2 streamed change carries an xid first: the layout does not fit.
      {Wire().ch('I').u32(555).u32(16385).ch('N').i16(0), "expected tuple marker 'N', got 0x00"},
  };
  for (const auto& c : cases) {
    auto message = decode_pgoutput(c.bytes);
    ASSERT_FALSE(message) << c.expected;
    EXPECT_EQ(message.error().code(), ErrorCode::kPermanent);
    EXPECT_NE(message.error().message().find(c.expected), std::string::npos)
        << message.error().message();
  }
}

TEST(PgReplicationTest, DecodesXLogDataAndKeepalive) {
  std::string begin = from_hex("4200000000016b37480002b0d5d4e940000000022b");
  auto w =
      decode_server_message(from_hex("7700000000016b374800000000016b37780002b0d5d4e94000") + begin);
  ASSERT_TRUE(w) << w.error().message();
  const auto& data = std::get<XLogData>(*w);
  EXPECT_EQ(data.wal_start, 0x16B3748u);
  EXPECT_EQ(data.wal_end, 0x16B3778u);
  EXPECT_EQ(data.send_time, kTs);
  EXPECT_EQ(data.payload, begin);

  auto k = decode_server_message(from_hex("6b00000000016b37780002b0d5d4e9400001"));
  ASSERT_TRUE(k) << k.error().message();
  const auto& keepalive = std::get<PrimaryKeepalive>(*k);
  EXPECT_EQ(keepalive.wal_end, 0x16B3778u);
  EXPECT_EQ(keepalive.send_time, kTs);
  EXPECT_TRUE(keepalive.reply_requested);

  // An XLogData with an empty payload is well-formed at this level.
  auto empty = decode_server_message(Wire().ch('w').u64(1).u64(2).i64(3).data());
  ASSERT_TRUE(empty);
  EXPECT_EQ(std::get<XLogData>(*empty).payload, "");
}

TEST(PgReplicationTest, RejectsTruncatedAndUnknownServerMessages) {
  std::vector<std::string> messages = {
      from_hex("7700000000016b374800000000016b37780002b0d5d4e94000"),
      from_hex("6b00000000016b37780002b0d5d4e9400001"),
  };
  for (const auto& full : messages) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      auto message = decode_server_message(std::string_view(full).substr(0, n));
      ASSERT_FALSE(message) << full[0] << " cut at " << n;
      EXPECT_EQ(message.error().code(), ErrorCode::kPermanent);
    }
  }
  auto keepalive = decode_server_message(from_hex("6b00000000016b37780002b0d5d4e940000100"));
  ASSERT_FALSE(keepalive);
  EXPECT_NE(keepalive.error().message().find("trailing"), std::string::npos);
  auto unknown = decode_server_message("x");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("unknown CopyData message type 0x78"),
            std::string::npos);
}

TEST(PgReplicationTest, EncodesStandbyStatusUpdate) {
  std::string bytes = encode_standby_status(
      {.write = 0x16B3778, .flush = 0x16B3778, .apply = 0, .client_time = kTs});
  EXPECT_EQ(bytes,
            from_hex("7200000000016b377800000000016b377800000000000000000002b0d5d4e9400000"));
  EXPECT_EQ(bytes.size(), 34u);
  std::string reply = encode_standby_status({.write = UINT64_MAX, .reply_requested = true});
  EXPECT_EQ(reply.substr(1, 8), std::string(8, '\xff'));
  EXPECT_EQ(reply.back(), '\x01');
}

}  // namespace
}  // namespace megasync::connectors::postgres
