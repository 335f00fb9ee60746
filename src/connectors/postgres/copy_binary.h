// Rows in the binary format of COPY FROM STDIN (FORMAT binary), written for
// the types of the target table's columns. The server reads binary values with
// each type's receive function: no text to parse, about a third less of the
// target's CPU for a snapshot copied straight into its table, where the
// target's COPY is the slowest step.
//
// Only values in the exact form megasync's sources give them (canonical
// ISO-8601 dates and times, plain decimals for numeric, ...) are written in
// binary; anything else makes append() return false, and the caller copies
// the rows as text instead, which the server reads as it always did. Types
// with no encoder here (interval, arrays, ranges, ...) make the whole table
// text (a binary COPY is binary for every column).
//
// Thread-safety: const methods are safe to call from several threads.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/postgres/types.h"
#include "core/error.h"
#include "core/value.h"

namespace megasync::connectors::postgres {

// A target column's type: its OID, and whether it is an enum (whose binary
// form is its label).
struct TargetType {
  Oid oid = 0;
  bool is_enum = false;
};

class BinaryRowEncoder {
 public:
  // nullopt when a column's type has no binary encoder here.
  static std::optional<BinaryRowEncoder> make(const std::vector<TargetType>& columns);

  // The signature and header that start a binary COPY, and its trailer.
  static void append_header(std::string& out);
  static void append_trailer(std::string& out);

  // One row; `values` in the order of the columns. False when a value cannot
  // be written in binary for its column; `out` is then left as it was.
  bool append(const std::vector<const Value*>& values, std::string& out) const;

 private:
  explicit BinaryRowEncoder(std::vector<TargetType> columns) : columns_(std::move(columns)) {}

  std::vector<TargetType> columns_;
};

// The way in: rows of COPY ... TO STDOUT (FORMAT binary), read into exactly
// the Values text_to_value makes of the same rows in text (so a table reads
// alike either way; the snapshot tests compare both). The source's server
// then runs each type's send function rather than its output function (no
// dates or numbers to print), and megasync has no text to parse.
//
// Types with a decoder: bool, int2/4/8, oid, float4/8, numeric, text,
// varchar, bpchar, json, jsonb, bytea, uuid, date, time, timestamp(tz). A
// table with a column of any other type is read as text.
//
// Thread-safety: one per COPY; not shared.
class BinaryRowDecoder {
 public:
  // nullopt when a column's type has no decoder here.
  static std::optional<BinaryRowDecoder> make(std::vector<Oid> types);

  // One CopyData message of the COPY, in order: the first starts with the
  // header. Calls `row` with the values of each row it holds (in the order of
  // the columns; NULL is an empty Value), which it may move from. A malformed
  // message, or a value its type cannot have, is kPermanent.
  Status read(std::string_view message, const std::function<Status(std::vector<Value>&)>& row);

 private:
  explicit BinaryRowDecoder(std::vector<Oid> types)
      : types_(std::move(types)), values_(types_.size()) {}

  std::vector<Oid> types_;
  std::vector<Value> values_;
  bool header_read_ = false;
  bool ended_ = false;
};

}  // namespace megasync::connectors::postgres
