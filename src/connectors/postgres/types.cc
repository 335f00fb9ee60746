#include "connectors/postgres/types.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <variant>

#include "connectors/postgres/text_format.h"

namespace megasync::connectors::postgres {
namespace {

struct BuiltinType {
  Oid oid;
  Oid array_oid;
  std::string_view name;  // as format_type() prints it
  ColumnType type;
};

// Built-in types from pg_type.dat, with their array types. OIDs are stable
// across PostgreSQL versions for built-in types.
constexpr std::array kBuiltinTypes = {
    BuiltinType{16, 1000, "boolean", ColumnType::kBoolean},
    BuiltinType{17, 1001, "bytea", ColumnType::kBytes},
    BuiltinType{18, 1002, "\"char\"", ColumnType::kText},
    BuiltinType{19, 1003, "name", ColumnType::kText},
    BuiltinType{20, 1016, "bigint", ColumnType::kInteger},
    BuiltinType{21, 1005, "smallint", ColumnType::kInteger},
    BuiltinType{23, 1007, "integer", ColumnType::kInteger},
    BuiltinType{25, 1009, "text", ColumnType::kText},
    BuiltinType{26, 1028, "oid", ColumnType::kInteger},
    BuiltinType{114, 199, "json", ColumnType::kJson},
    BuiltinType{142, 143, "xml", ColumnType::kText},
    BuiltinType{650, 651, "cidr", ColumnType::kText},
    BuiltinType{700, 1021, "real", ColumnType::kReal},
    BuiltinType{701, 1022, "double precision", ColumnType::kReal},
    BuiltinType{790, 791, "money", ColumnType::kText},  // locale-formatted ("$1.00")
    BuiltinType{829, 1040, "macaddr", ColumnType::kText},
    BuiltinType{869, 1041, "inet", ColumnType::kText},
    BuiltinType{1042, 1014, "character", ColumnType::kText},
    BuiltinType{1043, 1015, "character varying", ColumnType::kText},
    BuiltinType{1082, 1182, "date", ColumnType::kDate},
    BuiltinType{1083, 1183, "time without time zone", ColumnType::kTime},
    BuiltinType{1114, 1115, "timestamp without time zone", ColumnType::kTimestamp},
    BuiltinType{1184, 1185, "timestamp with time zone", ColumnType::kTimestampTz},
    BuiltinType{1186, 1187, "interval", ColumnType::kInterval},
    BuiltinType{1266, 1270, "time with time zone", ColumnType::kTime},
    BuiltinType{1560, 1561, "bit", ColumnType::kText},
    BuiltinType{1562, 1563, "bit varying", ColumnType::kText},
    BuiltinType{1700, 1231, "numeric", ColumnType::kNumeric},
    BuiltinType{2950, 2951, "uuid", ColumnType::kUuid},
    BuiltinType{3802, 3807, "jsonb", ColumnType::kJson},
};

const BuiltinType* find_type(Oid oid) {
  for (const auto& t : kBuiltinTypes) {
    if (t.oid == oid) {
      return &t;
    }
  }
  return nullptr;
}

const BuiltinType* find_array_type(Oid oid) {
  for (const auto& t : kBuiltinTypes) {
    if (t.array_oid == oid) {
      return &t;
    }
  }
  return nullptr;
}

// Declared names (lower case, typmods removed, single spaces) that are not
// plain text. Anything else is text.
struct NamedType {
  std::string_view name;
  ColumnType type;
};
constexpr std::array kNamedTypes = {
    NamedType{"smallint", ColumnType::kInteger},
    NamedType{"integer", ColumnType::kInteger},
    NamedType{"int", ColumnType::kInteger},
    NamedType{"bigint", ColumnType::kInteger},
    NamedType{"int2", ColumnType::kInteger},
    NamedType{"int4", ColumnType::kInteger},
    NamedType{"int8", ColumnType::kInteger},
    NamedType{"smallserial", ColumnType::kInteger},
    NamedType{"serial", ColumnType::kInteger},
    NamedType{"bigserial", ColumnType::kInteger},
    NamedType{"serial2", ColumnType::kInteger},
    NamedType{"serial4", ColumnType::kInteger},
    NamedType{"serial8", ColumnType::kInteger},
    NamedType{"oid", ColumnType::kInteger},
    NamedType{"real", ColumnType::kReal},
    NamedType{"float4", ColumnType::kReal},
    NamedType{"double precision", ColumnType::kReal},
    NamedType{"float8", ColumnType::kReal},
    NamedType{"float", ColumnType::kReal},
    NamedType{"numeric", ColumnType::kNumeric},
    NamedType{"decimal", ColumnType::kNumeric},
    NamedType{"boolean", ColumnType::kBoolean},
    NamedType{"bool", ColumnType::kBoolean},
    NamedType{"bytea", ColumnType::kBytes},
    NamedType{"date", ColumnType::kDate},
    NamedType{"time", ColumnType::kTime},
    NamedType{"time without time zone", ColumnType::kTime},
    NamedType{"time with time zone", ColumnType::kTime},
    NamedType{"timetz", ColumnType::kTime},
    NamedType{"timestamp", ColumnType::kTimestamp},
    NamedType{"timestamp without time zone", ColumnType::kTimestamp},
    NamedType{"timestamp with time zone", ColumnType::kTimestampTz},
    NamedType{"timestamptz", ColumnType::kTimestampTz},
    NamedType{"interval", ColumnType::kInterval},
    NamedType{"uuid", ColumnType::kUuid},
    NamedType{"json", ColumnType::kJson},
    NamedType{"jsonb", ColumnType::kJson},
};

// Lower case, "(...)" typmods removed, runs of spaces made one, trimmed.
std::string normalize_declared(std::string_view declared) {
  std::string out;
  int depth = 0;
  for (char c : declared) {
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      depth = depth > 0 ? depth - 1 : 0;
    } else if (depth == 0) {
      if (std::isspace(static_cast<unsigned char>(c)) != 0) {
        if (!out.empty() && out.back() != ' ') {
          out += ' ';
        }
      } else {
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

Result<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return make_error(ErrorCode::kPermanent, "invalid integer \"{}\"", text);
  }
  return value;
}

Result<double> parse_double(std::string_view text) {
  if (text == "NaN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (text == "Infinity") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-Infinity") {
    return -std::numeric_limits<double>::infinity();
  }
  double value = 0;
  // from_chars also reads "nan", "inf" and "infinity" in any case; PostgreSQL
  // prints only the spellings above, so anything else with letters is wrong.
  if (text.find_first_not_of("0123456789-.eE+") != std::string_view::npos) {
    return make_error(ErrorCode::kPermanent, "invalid floating-point number \"{}\"", text);
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return make_error(ErrorCode::kPermanent, "invalid floating-point number \"{}\"", text);
  }
  return value;
}

// An array element as JSON: numbers and booleans as themselves, floats that
// JSON cannot hold ("NaN", "Infinity") and everything else as strings.
Result<nlohmann::json> element_to_json(Oid element, std::string_view text) {
  auto value = text_to_value(element, text);
  if (!value) {
    return fail(value.error());
  }
  return std::visit(
      [&](const auto& v) -> nlohmann::json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else if constexpr (std::is_same_v<T, double>) {
          return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(std::string(text));
        } else if constexpr (std::is_same_v<T, Bytes>) {
          return std::string(text);  // bytea elements keep their "\x..." text
        } else {
          return v;
        }
      },
      *value);
}

}  // namespace

ColumnType column_type(Oid type) {
  if (const auto* t = find_type(type)) {
    return t->type;
  }
  if (find_array_type(type) != nullptr) {
    return ColumnType::kArray;
  }
  return ColumnType::kText;
}

bool known_type(Oid type) {
  return find_type(type) != nullptr || find_array_type(type) != nullptr;
}

Oid array_element_type(Oid type) {
  const auto* t = find_array_type(type);
  return t != nullptr ? t->oid : 0;
}

std::string format_type(Oid type, std::int32_t type_modifier) {
  bool array = false;
  const BuiltinType* t = find_type(type);
  if (t == nullptr) {
    t = find_array_type(type);
    array = true;
  }
  if (t == nullptr) {
    return "";
  }
  std::string name(t->name);
  std::string suffix = array ? "[]" : "";
  if (type_modifier < 0) {
    return name + suffix;
  }
  // Typmod encodings from the types' *typmodout functions.
  switch (t->oid) {
    case 1042:  // character(n), character varying(n): length + 4
    case 1043:
      return fmt::format("{}({}){}", name, type_modifier - 4, suffix);
    case 1560:  // bit(n), bit varying(n)
    case 1562:
      return fmt::format("{}({}){}", name, type_modifier, suffix);
    case 1700: {  // numeric(p,s): ((p << 16) | s) + 4; PG15 allows a negative scale
      std::int32_t packed = type_modifier - 4;
      auto scale = static_cast<std::int16_t>(packed & 0xFFFF);
      return fmt::format("numeric({},{}){}", (packed >> 16) & 0xFFFF, scale, suffix);
    }
    case 1083:  // time(p) without time zone, ...: the precision
    case 1114:
    case 1184:
    case 1266: {
      auto space = name.find(' ');
      return fmt::format("{}({}){}{}", name.substr(0, space), type_modifier, name.substr(space),
                         suffix);
    }
    default:
      return name + suffix;
  }
}

ColumnType column_type(std::string_view declared) {
  std::string name = normalize_declared(declared);
  // "text[]", "integer[3]", "integer array", "_int4" (udt_name of an array).
  if (name.find('[') != std::string::npos ||
      (name.size() > 6 && name.compare(name.size() - 6, 6, " array") == 0) ||
      (!name.empty() && name[0] == '_')) {
    return ColumnType::kArray;
  }
  // Schema-qualified built-ins: "pg_catalog.int4".
  if (name.rfind("pg_catalog.", 0) == 0) {
    name.erase(0, 11);
  }
  // "interval day to second" and the like.
  if (name.rfind("interval ", 0) == 0) {
    return ColumnType::kInterval;
  }
  for (const auto& t : kNamedTypes) {
    if (t.name == name) {
      return t.type;
    }
  }
  return ColumnType::kText;
}

std::string declared_type(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "bigint";
    case ColumnType::kReal:
      return "double precision";
    case ColumnType::kNumeric:
      return "numeric";
    case ColumnType::kBoolean:
      return "boolean";
    case ColumnType::kBytes:
      return "bytea";
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
    case ColumnType::kArray:  // the value is a JSON array of unknown element type
      return "jsonb";
    case ColumnType::kText:
    case ColumnType::kUnknown:
      return "text";
  }
  return "text";
}

std::string column_declaration(const Column& column, std::string_view type_system) {
  if (type_system != "postgres" || column.source_type.empty() ||
      column_type(std::string_view(column.source_type)) != column.type) {
    return declared_type(column.type);
  }
  // The name without typmods and array brackets must be a built-in's.
  std::string name = normalize_declared(column.source_type);
  while (name.ends_with("[]")) {
    name.resize(name.size() - 2);
  }
  bool builtin = name.rfind("interval ", 0) == 0;
  for (const auto& t : kNamedTypes) {
    builtin = builtin || t.name == name;
  }
  for (const auto& t : kBuiltinTypes) {
    builtin = builtin || t.name == name;
  }
  return builtin ? column.source_type : declared_type(column.type);
}

namespace {

void append_array_element(const nlohmann::json& element, std::string& out) {
  if (element.is_null()) {
    out += "NULL";
  } else if (element.is_array()) {
    out += '{';
    bool first = true;
    for (const auto& item : element) {
      if (!first) {
        out += ',';
      }
      first = false;
      append_array_element(item, out);
    }
    out += '}';
  } else if (element.is_boolean()) {
    out += element.get<bool>() ? 't' : 'f';
  } else if (element.is_number()) {
    out += element.dump();
  } else {
    const std::string text = element.is_string() ? element.get<std::string>() : element.dump();
    out += '"';
    for (char c : text) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
}

}  // namespace

std::optional<std::string> json_to_array_literal(std::string_view json) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_array()) {
    return std::nullopt;
  }
  std::string out;
  append_array_element(parsed, out);
  return out;
}

Result<Value> array_to_value(Oid element, std::string_view text) {
  auto json = array_to_json(
      text, [element](std::string_view item) { return element_to_json(element, item); });
  if (!json) {
    return fail(json.error());
  }
  // Text from the server should be UTF-8; replace bad bytes rather than throw.
  return Value(json->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Result<Value> read_value(Oid type, ColumnType expected, std::string_view text) {
  if (expected == ColumnType::kArray && !known_type(type)) {
    return array_to_value(0, text);
  }
  if (expected == ColumnType::kArray && (type == type_oid::kJson || type == type_oid::kJsonb)) {
    nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
    if (!parsed.is_discarded()) {
      return Value(parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  return text_to_value(type, text);
}

Result<Value> text_to_value(Oid type, std::string_view text) {
  if (Oid element = array_element_type(type); element != 0) {
    return array_to_value(element, text);
  }
  switch (type) {
    case type_oid::kInt2:
    case type_oid::kInt4:
    case type_oid::kInt8:
    case type_oid::kOid: {
      auto v = parse_integer(text);
      return v ? Result<Value>(*v) : fail(v.error());
    }
    case type_oid::kFloat4:
    case type_oid::kFloat8: {
      auto v = parse_double(text);
      return v ? Result<Value>(*v) : fail(v.error());
    }
    case type_oid::kBool:
      if (text == "t") {
        return Value(true);
      }
      if (text == "f") {
        return Value(false);
      }
      return make_error(ErrorCode::kPermanent, "invalid boolean \"{}\" (expected t or f)", text);
    case type_oid::kBytea: {
      auto v = bytea_to_bytes(text);
      return v ? Result<Value>(Bytes{*std::move(v)}) : fail(v.error());
    }
    case type_oid::kTimestampTz: {
      auto v = timestamptz_to_iso(text);
      return v ? Result<Value>(*std::move(v)) : fail(v.error());
    }
    case type_oid::kTimestamp: {
      auto v = timestamp_to_iso(text);
      return v ? Result<Value>(*std::move(v)) : fail(v.error());
    }
    case type_oid::kDate: {
      auto v = date_to_iso(text);
      return v ? Result<Value>(*std::move(v)) : fail(v.error());
    }
    default:
      // numeric (exact text), time, interval, uuid, json, text types, enums,
      // unknown types: the text output is the value.
      return Value(std::string(text));
  }
}

}  // namespace megasync::connectors::postgres
