// Decoding of PostgreSQL logical replication streams, pure and without libpq:
// the CopyData messages of the streaming replication protocol (XLogData,
// Primary keepalive, Standby status update) and the pgoutput protocol v1
// messages inside XLogData (Begin, Commit, Origin, Relation, Type, Insert,
// Update, Delete, Truncate, Message).
//
// Layouts: PostgreSQL 15 "Logical Replication Message Formats" and "Streaming
// Replication Protocol"; all integers are big-endian. Every decoder checks each
// read against the buffer: malformed or truncated input is a kPermanent Error
// naming the message and the byte offset, never an out-of-bounds read.
// Decoded messages own their data (no views into the input buffer).
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "connectors/postgres/lsn.h"
#include "core/error.h"

namespace megasync::connectors::postgres {

using Oid = std::uint32_t;
// Server timestamps: microseconds since 2000-01-01 00:00:00 UTC.
using PgTimestamp = std::int64_t;
// 2000-01-01T00:00:00Z in Unix microseconds.
inline constexpr std::int64_t kPgEpochUnixMicros = 946'684'800'000'000;

// ---- Streaming replication (CopyData) messages -----------------------------

// 'w': one pgoutput message and where it is in the WAL.
struct XLogData {
  Lsn wal_start = 0;  // WAL position of this data
  Lsn wal_end = 0;    // the server's current end of WAL
  PgTimestamp send_time = 0;
  std::string payload;  // exactly one pgoutput message; decode with decode_pgoutput()
};

// 'k': the server is alive; when reply_requested, send a status update now.
struct PrimaryKeepalive {
  Lsn wal_end = 0;
  PgTimestamp send_time = 0;
  bool reply_requested = false;
};

using ServerMessage = std::variant<XLogData, PrimaryKeepalive>;

// Decodes one CopyData message from the server. Other types, truncation and
// trailing bytes are kPermanent.
Result<ServerMessage> decode_server_message(std::string_view data);

// 'r': the client's progress. Report as `flush` only the end LSN of a
// transaction that is durably applied: the slot discards WAL up to it.
struct StandbyStatusUpdate {
  Lsn write = 0;
  Lsn flush = 0;
  Lsn apply = 0;
  PgTimestamp client_time = 0;
  bool reply_requested = false;
};

// The 34 bytes of a status update, to send with PQputCopyData.
std::string encode_standby_status(const StandbyStatusUpdate& status);

// ---- pgoutput protocol v1 messages -----------------------------------------

struct BeginMessage {  // 'B'
  Lsn final_lsn = 0;   // LSN of the commit record
  PgTimestamp commit_time = 0;
  std::uint32_t xid = 0;
};

struct CommitMessage {  // 'C'
  std::uint8_t flags = 0;
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;  // the transaction's end: what to report as flushed once applied
  PgTimestamp commit_time = 0;
};

struct OriginMessage {  // 'O': the transaction was replayed from another node
  Lsn commit_lsn = 0;   // on the origin server
  std::string name;
};

struct RelationColumn {
  std::uint8_t flags = 0;  // bit 1: part of the replica identity key
  std::string name;
  Oid type_oid = 0;
  std::int32_t type_modifier = -1;  // atttypmod; -1 = none

  bool key() const { return (flags & 1) != 0; }
};

struct RelationMessage {  // 'R'
  Oid oid = 0;
  std::string namespace_name;  // "" stands for pg_catalog
  std::string name;
  char replica_identity = 'd';  // 'd' default, 'n' nothing, 'f' full, 'i' index
  std::vector<RelationColumn> columns;
};

struct TypeMessage {  // 'Y': a non-built-in type used by a following Relation
  Oid oid = 0;
  std::string namespace_name;
  std::string name;
};

// One column of a TupleData.
struct TupleValue {
  enum class Kind {
    kNull,            // 'n'
    kUnchangedToast,  // 'u': not sent; the value stays what it was
    kText,            // 't': the type's text output
    kBinary,          // 'b': binary send format (only with the `binary` option)
  };
  Kind kind = Kind::kNull;
  std::string data;  // kText and kBinary only

  bool operator==(const TupleValue&) const = default;
};

using TupleData = std::vector<TupleValue>;

struct InsertMessage {  // 'I'
  Oid relation = 0;
  TupleData new_tuple;
};

struct UpdateMessage {  // 'U'
  Oid relation = 0;
  // 'K': old key columns (the key changed); 'O': the whole old row (REPLICA
  // IDENTITY FULL); '\0': no old tuple.
  char old_kind = '\0';
  std::optional<TupleData> old_tuple;
  TupleData new_tuple;
};

struct DeleteMessage {  // 'D'
  Oid relation = 0;
  char old_kind = 'K';  // 'K' key columns (the others null) or 'O' whole row
  TupleData old_tuple;
};

struct TruncateMessage {  // 'T'
  std::uint8_t options = 0;
  std::vector<Oid> relations;

  bool cascade() const { return (options & 1) != 0; }
  bool restart_identity() const { return (options & 2) != 0; }
};

struct LogicalMessage {  // 'M': pg_logical_emit_message(), only with `messages 'true'`
  bool transactional = false;
  Lsn lsn = 0;
  std::string prefix;
  std::string content;
};

using PgOutputMessage =
    std::variant<BeginMessage, CommitMessage, OriginMessage, RelationMessage, TypeMessage,
                 InsertMessage, UpdateMessage, DeleteMessage, TruncateMessage, LogicalMessage>;

// Decodes one pgoutput protocol v1 message (an XLogData payload). Truncated or
// malformed input, trailing bytes and message types of later protocol versions
// (stream and two-phase messages) are kPermanent.
Result<PgOutputMessage> decode_pgoutput(std::string_view payload);

}  // namespace megasync::connectors::postgres
