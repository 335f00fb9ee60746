// Typed values of record fields, as every record connector exchanges them.
//
// A Value is one of: null, boolean, 64-bit integer, double, text (UTF-8),
// bytes. Types the variant does not hold natively (numeric, timestamps, uuid,
// json, dates) travel as text with their logical type named by the column's
// ColumnType, so that no precision is lost between systems.
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace megasync {

struct Bytes {
  std::string data;  // raw bytes
  bool operator==(const Bytes&) const = default;
};

using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string, Bytes>;

inline bool is_null(const Value& v) {
  return std::holds_alternative<std::monostate>(v);
}

// Logical column types, the common ground of every record system's type system.
enum class ColumnType {
  kInteger,
  kReal,
  kNumeric,  // exact decimal, as text
  kText,
  kBoolean,
  kBytes,
  kDate,  // ISO-8601 text
  kTime,
  kTimestamp,    // ISO-8601 text, without zone
  kTimestampTz,  // ISO-8601 text, UTC
  kInterval,
  kUuid,
  kJson,
  kArray,    // JSON text of the elements
  kUnknown,  // passed through as text
};

std::string_view to_string(ColumnType type);

// A canonical, unambiguous encoding of a value: equal values encode equally and
// different values differently (used for checksums and key ordering).
void encode_canonical(const Value& v, std::string& out);
// Human-readable text of a value, for messages and text-typed targets.
std::string to_text(const Value& v);

}  // namespace megasync
