#include "connectors/mariadb/values.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>

namespace megasync::connectors::mariadb {
namespace {

constexpr unsigned int kBinaryCharset = 63;

}  // namespace

std::string quote_ident(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    out += c;
    if (c == '`') {
      out += '`';
    }
  }
  return out + "`";
}

std::string quote_literal(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  for (char c : text) {
    switch (c) {
      case '\0':
        out += "\\0";
        break;
      case '\'':
        out += "\\'";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\x1a':
        out += "\\Z";
        break;
      default:
        out += c;
    }
  }
  out += '\'';
  return out;
}

std::string to_datetime_text(std::string_view text) {
  // Only text that starts like an ISO timestamp is touched.
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || text[13] != ':' ||
      (text[10] != 'T' && text[10] != ' ')) {
    return std::string(text);
  }
  std::string out(text);
  out[10] = ' ';
  for (std::string_view utc : {"Z", "+00:00", "+0000", "+00"}) {
    if (out.size() > 19 && std::string_view(out).ends_with(utc)) {
      out.resize(out.size() - utc.size());
      break;
    }
  }
  return out;
}

Status append_literal(const Value& value, ColumnType type, std::string& out) {
  if (std::holds_alternative<std::monostate>(value)) {
    out += "NULL";
  } else if (const bool* b = std::get_if<bool>(&value)) {
    out += *b ? '1' : '0';
  } else if (const std::int64_t* i = std::get_if<std::int64_t>(&value)) {
    fmt::format_to(std::back_inserter(out), "{}", *i);
  } else if (const double* d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) {
      return make_error(ErrorCode::kPermanent,
                        "MariaDB cannot store the double {} (a DOUBLE holds finite values "
                        "only): leave this table out of the MariaDB target, or filter such rows",
                        std::isnan(*d) ? "NaN" : (*d > 0 ? "Infinity" : "-Infinity"));
    }
    fmt::format_to(std::back_inserter(out), "{}", *d);  // shortest exact form
  } else if (const std::string* s = std::get_if<std::string>(&value)) {
    if (type == ColumnType::kTimestamp || type == ColumnType::kTimestampTz) {
      out += quote_literal(to_datetime_text(*s));
    } else {
      out += quote_literal(*s);
    }
  } else if (const Bytes* bytes = std::get_if<Bytes>(&value)) {
    out += "X'";
    for (unsigned char c : bytes->data) {
      fmt::format_to(std::back_inserter(out), "{:02X}", c);
    }
    out += '\'';
  }
  return ok();
}

std::string declared_type(ColumnType type, bool key) {
  switch (type) {
    case ColumnType::kInteger:
      return "BIGINT";
    case ColumnType::kReal:
      return "DOUBLE";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kBytes:
      return key ? "VARBINARY(255)" : "LONGBLOB";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTimestamp:
    case ColumnType::kTimestampTz:
      return "DATETIME(6)";
    default:
      // Numeric, time, interval, uuid, JSON, arrays and unknown types are kept
      // as the exact text the source sent.
      return key ? "VARCHAR(255)" : "LONGTEXT";
  }
}

Value field_value(enum_field_types field_type, unsigned int charsetnr, ColumnType column,
                  std::string_view text) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  switch (field_type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR: {
      std::int64_t i = 0;
      const auto [ptr, ec] = std::from_chars(begin, end, i);
      if (ec != std::errc() || ptr != end) {
        return std::string(text);  // an unsigned value beyond int64
      }
      if (column == ColumnType::kBoolean) {
        return i != 0;
      }
      return i;
    }
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE: {
      double d = 0;
      const auto [ptr, ec] = std::from_chars(begin, end, d);
      if (ec != std::errc() || ptr != end) {
        return std::string(text);
      }
      return d;
    }
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP2:
      if (column == ColumnType::kTimestampTz) {
        return std::string(text) + "Z";
      }
      return std::string(text);
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_BIT:
    case MYSQL_TYPE_GEOMETRY:
      if (charsetnr == kBinaryCharset) {
        return Bytes{std::string(text)};
      }
      return std::string(text);
    default:
      return std::string(text);  // DECIMAL, DATE, TIME, JSON, ENUM, SET: as printed
  }
}

}  // namespace megasync::connectors::mariadb
