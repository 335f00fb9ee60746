#include "core/value.h"

#include <fmt/format.h>

#include <cstring>

#include "core/change.h"

namespace megasync {

std::string_view to_string(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "integer";
    case ColumnType::kReal:
      return "real";
    case ColumnType::kNumeric:
      return "numeric";
    case ColumnType::kText:
      return "text";
    case ColumnType::kBoolean:
      return "boolean";
    case ColumnType::kBytes:
      return "bytes";
    case ColumnType::kDate:
      return "date";
    case ColumnType::kTime:
      return "time";
    case ColumnType::kTimestamp:
      return "timestamp";
    case ColumnType::kTimestampTz:
      return "timestamptz";
    case ColumnType::kInterval:
      return "interval";
    case ColumnType::kUuid:
      return "uuid";
    case ColumnType::kJson:
      return "json";
    case ColumnType::kArray:
      return "array";
    case ColumnType::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view to_string(Op op) {
  switch (op) {
    case Op::kUpsert:
      return "upsert";
    case Op::kDelete:
      return "delete";
    case Op::kTruncate:
      return "truncate";
  }
  return "unknown";
}

void encode_canonical(const Value& v, std::string& out) {
  // A type tag, then a length-prefixed or fixed-width payload: no two different
  // values share an encoding.
  struct Encoder {
    std::string& out;
    void operator()(std::monostate) const { out.push_back('N'); }
    void operator()(bool b) const { out.append(b ? "T" : "F"); }
    void operator()(std::int64_t i) const { out.append(fmt::format("I{};", i)); }
    void operator()(double d) const { out.append(fmt::format("D{};", d)); }
    void operator()(const std::string& s) const {
      out.append(fmt::format("S{}:", s.size()));
      out.append(s);
    }
    void operator()(const Bytes& b) const {
      out.append(fmt::format("B{}:", b.data.size()));
      out.append(b.data);
    }
  };
  std::visit(Encoder{out}, v);
}

std::string to_text(const Value& v) {
  struct Text {
    std::string operator()(std::monostate) const { return "NULL"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return fmt::format("{}", d); }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const Bytes& b) const {
      std::string hex = "\\x";
      for (unsigned char c : b.data) {
        hex += fmt::format("{:02x}", c);
      }
      return hex;
    }
  };
  return std::visit(Text{}, v);
}

const Column* CollectionSchema::column(const std::string& column_name) const {
  for (const Column& c : columns) {
    if (c.name == column_name) {
      return &c;
    }
  }
  return nullptr;
}

std::string encode_key(const std::vector<Value>& key) {
  std::string out;
  for (const Value& v : key) {
    encode_canonical(v, out);
  }
  return out;
}

}  // namespace megasync
