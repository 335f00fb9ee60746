#include "connectors/postgres/pgoutput.h"

#include <fmt/format.h>

#include <utility>

namespace megasync::connectors::postgres {
namespace {

// A byte for an error message: 0x4e.
std::string hex_byte(char c) {
  return fmt::format("0x{:02x}", static_cast<unsigned char>(c));
}

// A bounds-checked big-endian reader over one message. The first failed read
// records an error and makes every later read return zero/empty, so decoders
// read a whole layout straight through and check failed() at the end (and in
// loops, so a bogus count cannot spin).
class Reader {
 public:
  // Reads `data` from byte `start`; offsets in errors count from the start of
  // `data` (the type byte), as in a hex dump of the message.
  Reader(std::string_view data, std::string_view message, std::size_t start = 1)
      : data_(data), message_(message), offset_(start) {}

  bool failed() const { return error_.has_value(); }
  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return data_.size() - offset_; }

  std::uint64_t uint(std::size_t bytes, std::string_view field) {
    if (!need(bytes, field)) {
      return 0;
    }
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      value = (value << 8) | static_cast<unsigned char>(data_[offset_ + i]);
    }
    offset_ += bytes;
    return value;
  }
  std::uint8_t u8(std::string_view field) { return static_cast<std::uint8_t>(uint(1, field)); }
  std::int16_t i16(std::string_view field) { return static_cast<std::int16_t>(uint(2, field)); }
  std::uint32_t u32(std::string_view field) { return static_cast<std::uint32_t>(uint(4, field)); }
  std::int32_t i32(std::string_view field) { return static_cast<std::int32_t>(uint(4, field)); }
  std::uint64_t u64(std::string_view field) { return uint(8, field); }
  std::int64_t i64(std::string_view field) { return static_cast<std::int64_t>(uint(8, field)); }

  // A NUL-terminated string.
  std::string cstring(std::string_view field) {
    if (failed()) {
      return {};
    }
    auto end = data_.find('\0', offset_);
    if (end == std::string_view::npos) {
      fail_truncated(field);
      return {};
    }
    std::string value(data_.substr(offset_, end - offset_));
    offset_ = end + 1;
    return value;
  }

  std::string bytes(std::size_t count, std::string_view field) {
    if (!need(count, field)) {
      return {};
    }
    std::string value(data_.substr(offset_, count));
    offset_ += count;
    return value;
  }

  // Records a malformed-content error at `at` (a byte offset).
  void fail_invalid(std::size_t at, std::string what) {
    if (!failed()) {
      error_ =
          Error(ErrorCode::kPermanent,
                fmt::format("pgoutput: invalid {} message at byte {}: {}", message_, at, what));
    }
  }

  // The result: `value`, or the recorded error, or an error for trailing bytes
  // (a protocol version mismatch shows up this way, e.g. an xid field).
  template <typename T>
  Result<T> finish(T value) {
    if (!failed() && remaining() != 0) {
      fail_invalid(offset_, fmt::format("{} unexpected trailing bytes", remaining()));
    }
    if (failed()) {
      return fail(*std::move(error_));
    }
    return value;
  }

 private:
  bool need(std::size_t count, std::string_view field) {
    if (failed()) {
      return false;
    }
    if (remaining() < count) {
      fail_truncated(field);
      return false;
    }
    return true;
  }

  void fail_truncated(std::string_view field) {
    error_ =
        Error(ErrorCode::kPermanent,
              fmt::format("pgoutput: truncated {} message at byte {} (reading {}; {} bytes left)",
                          message_, offset_, field, remaining()));
  }

  std::string_view data_;
  std::string_view message_;
  std::size_t offset_ = 0;
  std::optional<Error> error_;
};

TupleData read_tuple(Reader& in) {
  TupleData tuple;
  std::size_t at = in.offset();
  std::int16_t count = in.i16("tuple column count");
  if (count < 0) {
    in.fail_invalid(at, fmt::format("negative column count {}", count));
    return tuple;
  }
  tuple.reserve(static_cast<std::size_t>(count));
  for (std::int16_t i = 0; i < count && !in.failed(); ++i) {
    TupleValue value;
    at = in.offset();
    char kind = static_cast<char>(in.u8("tuple value kind"));
    if (in.failed()) {
      break;
    }
    switch (kind) {
      case 'n':
        value.kind = TupleValue::Kind::kNull;
        break;
      case 'u':
        value.kind = TupleValue::Kind::kUnchangedToast;
        break;
      case 't':
      case 'b': {
        value.kind = kind == 't' ? TupleValue::Kind::kText : TupleValue::Kind::kBinary;
        std::size_t length_at = in.offset();
        std::int32_t length = in.i32("tuple value length");
        if (length < 0) {
          in.fail_invalid(length_at, fmt::format("negative value length {}", length));
          break;
        }
        value.data = in.bytes(static_cast<std::size_t>(length), "tuple value");
        break;
      }
      default:
        in.fail_invalid(at, fmt::format("unknown tuple value kind {}", hex_byte(kind)));
        break;
    }
    tuple.push_back(std::move(value));
  }
  return tuple;
}

Result<PgOutputMessage> decode_begin(Reader in) {
  BeginMessage m;
  m.final_lsn = in.u64("final LSN");
  m.commit_time = in.i64("commit timestamp");
  m.xid = in.u32("xid");
  return in.finish<PgOutputMessage>(m);
}

Result<PgOutputMessage> decode_commit(Reader in) {
  CommitMessage m;
  m.flags = in.u8("flags");
  m.commit_lsn = in.u64("commit LSN");
  m.end_lsn = in.u64("end LSN");
  m.commit_time = in.i64("commit timestamp");
  return in.finish<PgOutputMessage>(m);
}

Result<PgOutputMessage> decode_origin(Reader in) {
  OriginMessage m;
  m.commit_lsn = in.u64("origin commit LSN");
  m.name = in.cstring("origin name");
  return in.finish<PgOutputMessage>(std::move(m));
}

Result<PgOutputMessage> decode_relation(Reader in) {
  RelationMessage m;
  m.oid = in.u32("relation OID");
  m.namespace_name = in.cstring("namespace");
  m.name = in.cstring("relation name");
  m.replica_identity = static_cast<char>(in.u8("replica identity"));
  std::size_t at = in.offset();
  std::int16_t count = in.i16("column count");
  if (count < 0) {
    in.fail_invalid(at, fmt::format("negative column count {}", count));
  }
  for (std::int16_t i = 0; i < count && !in.failed(); ++i) {
    RelationColumn column;
    column.flags = in.u8("column flags");
    column.name = in.cstring("column name");
    column.type_oid = in.u32("column type OID");
    column.type_modifier = in.i32("column type modifier");
    m.columns.push_back(std::move(column));
  }
  return in.finish<PgOutputMessage>(std::move(m));
}

Result<PgOutputMessage> decode_type(Reader in) {
  TypeMessage m;
  m.oid = in.u32("type OID");
  m.namespace_name = in.cstring("namespace");
  m.name = in.cstring("type name");
  return in.finish<PgOutputMessage>(std::move(m));
}

// Reads the 'N' marker that introduces a new tuple.
void expect_new_tuple(Reader& in) {
  std::size_t at = in.offset();
  char marker = static_cast<char>(in.u8("tuple marker"));
  if (!in.failed() && marker != 'N') {
    in.fail_invalid(at, fmt::format("expected tuple marker 'N', got {}", hex_byte(marker)));
  }
}

Result<PgOutputMessage> decode_insert(Reader in) {
  InsertMessage m;
  m.relation = in.u32("relation OID");
  expect_new_tuple(in);
  m.new_tuple = read_tuple(in);
  return in.finish<PgOutputMessage>(std::move(m));
}

Result<PgOutputMessage> decode_update(Reader in) {
  UpdateMessage m;
  m.relation = in.u32("relation OID");
  std::size_t at = in.offset();
  char marker = static_cast<char>(in.u8("tuple marker"));
  if (!in.failed()) {
    if (marker == 'K' || marker == 'O') {
      m.old_kind = marker;
      m.old_tuple = read_tuple(in);
      expect_new_tuple(in);
    } else if (marker != 'N') {
      in.fail_invalid(
          at, fmt::format("expected tuple marker 'K', 'O' or 'N', got {}", hex_byte(marker)));
    }
  }
  m.new_tuple = read_tuple(in);
  return in.finish<PgOutputMessage>(std::move(m));
}

Result<PgOutputMessage> decode_delete(Reader in) {
  DeleteMessage m;
  m.relation = in.u32("relation OID");
  std::size_t at = in.offset();
  m.old_kind = static_cast<char>(in.u8("tuple marker"));
  if (!in.failed() && m.old_kind != 'K' && m.old_kind != 'O') {
    in.fail_invalid(at,
                    fmt::format("expected tuple marker 'K' or 'O', got {}", hex_byte(m.old_kind)));
  }
  m.old_tuple = read_tuple(in);
  return in.finish<PgOutputMessage>(std::move(m));
}

Result<PgOutputMessage> decode_truncate(Reader in) {
  TruncateMessage m;
  std::size_t at = in.offset();
  std::int32_t count = in.i32("relation count");
  m.options = in.u8("options");
  if (count < 0) {
    in.fail_invalid(at, fmt::format("negative relation count {}", count));
  }
  // Every OID is 4 bytes: a count beyond the buffer is truncation, caught by
  // the first missing read, without reserving memory for a bogus count.
  for (std::int32_t i = 0; i < count && !in.failed(); ++i) {
    m.relations.push_back(in.u32("relation OID"));
  }
  return in.finish<PgOutputMessage>(std::move(m));
}

Result<PgOutputMessage> decode_message(Reader in) {
  LogicalMessage m;
  m.transactional = (in.u8("flags") & 1) != 0;
  m.lsn = in.u64("LSN");
  m.prefix = in.cstring("prefix");
  std::size_t at = in.offset();
  std::int32_t length = in.i32("content length");
  if (length < 0) {
    in.fail_invalid(at, fmt::format("negative content length {}", length));
  }
  m.content = in.bytes(length < 0 ? 0 : static_cast<std::size_t>(length), "content");
  return in.finish<PgOutputMessage>(std::move(m));
}

}  // namespace

Result<ServerMessage> decode_server_message(std::string_view data) {
  if (data.empty()) {
    return make_error(ErrorCode::kPermanent, "replication: empty CopyData message");
  }
  char type = data[0];
  if (type == 'w') {
    Reader in(data, "XLogData");
    XLogData m;
    m.wal_start = in.u64("WAL start");
    m.wal_end = in.u64("WAL end");
    m.send_time = in.i64("send time");
    if (!in.failed()) {
      m.payload = in.bytes(in.remaining(), "payload");
    }
    return in.finish<ServerMessage>(std::move(m));
  }
  if (type == 'k') {
    Reader in(data, "Primary keepalive");
    PrimaryKeepalive m;
    m.wal_end = in.u64("WAL end");
    m.send_time = in.i64("send time");
    m.reply_requested = in.u8("reply requested") != 0;
    return in.finish<ServerMessage>(m);
  }
  return make_error(ErrorCode::kPermanent,
                    "replication: unknown CopyData message type {} (expected 'w' or 'k')",
                    hex_byte(type));
}

std::string encode_standby_status(const StandbyStatusUpdate& status) {
  std::string out;
  out.reserve(34);
  auto put64 = [&out](std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((v >> shift) & 0xFF));
    }
  };
  out.push_back('r');
  put64(status.write);
  put64(status.flush);
  put64(status.apply);
  put64(static_cast<std::uint64_t>(status.client_time));
  out.push_back(status.reply_requested ? 1 : 0);
  return out;
}

Result<PgOutputMessage> decode_pgoutput(std::string_view payload) {
  if (payload.empty()) {
    return make_error(ErrorCode::kPermanent, "pgoutput: empty message");
  }
  char type = payload[0];
  auto reader = [&](std::string_view name) { return Reader(payload, name); };
  switch (type) {
    case 'B':
      return decode_begin(reader("Begin"));
    case 'C':
      return decode_commit(reader("Commit"));
    case 'O':
      return decode_origin(reader("Origin"));
    case 'R':
      return decode_relation(reader("Relation"));
    case 'Y':
      return decode_type(reader("Type"));
    case 'I':
      return decode_insert(reader("Insert"));
    case 'U':
      return decode_update(reader("Update"));
    case 'D':
      return decode_delete(reader("Delete"));
    case 'T':
      return decode_truncate(reader("Truncate"));
    case 'M':
      return decode_message(reader("Message"));
    case 'S':
    case 'E':
    case 'c':
    case 'A':
    case 'b':
    case 'P':
    case 'K':
    case 'r':
    case 'p':
      return make_error(ErrorCode::kPermanent,
                        "pgoutput: message type '{}' belongs to protocol version 2 or 3 "
                        "(streaming or two-phase); start replication with proto_version '1' and "
                        "without streaming or two_phase",
                        type);
    default:
      return make_error(ErrorCode::kPermanent, "pgoutput: unknown message type {}", hex_byte(type));
  }
}

}  // namespace megasync::connectors::postgres
