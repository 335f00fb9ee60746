#include "state/dead_letter_codec.h"

#include <cmath>
#include <limits>

namespace megasync::state {
namespace {

std::optional<Op> op_from_string(const std::string& text) {
  for (Op op : {Op::kUpsert, Op::kDelete, Op::kTruncate}) {
    if (to_string(op) == text) {
      return op;
    }
  }
  return std::nullopt;
}

std::optional<ColumnType> column_type_from_string(const std::string& text) {
  for (int i = 0; i <= static_cast<int>(ColumnType::kUnknown); ++i) {
    auto type = static_cast<ColumnType>(i);
    if (to_string(type) == text) {
      return type;
    }
  }
  return std::nullopt;
}

nlohmann::json encode_schema(const CollectionSchema& schema) {
  nlohmann::json columns = nlohmann::json::array();
  for (const Column& column : schema.columns) {
    columns.push_back({{"name", column.name},
                       {"type", to_string(column.type)},
                       {"nullable", column.nullable},
                       {"source_type", column.source_type}});
  }
  return {{"name", schema.name},
          {"columns", columns},
          {"primary_key", schema.primary_key},
          {"type_system", schema.type_system}};
}

CollectionSchema decode_schema(const nlohmann::json& json) {
  CollectionSchema schema;
  schema.name = json.at("name").get<std::string>();
  for (const auto& column : json.at("columns")) {
    schema.columns.push_back(
        Column{.name = column.at("name").get<std::string>(),
               .type = column_type_from_string(column.at("type").get<std::string>())
                           .value_or(ColumnType::kUnknown),
               .nullable = column.at("nullable").get<bool>(),
               .source_type = column.at("source_type").get<std::string>()});
  }
  schema.primary_key = json.at("primary_key").get<std::vector<std::string>>();
  schema.type_system = json.at("type_system").get<std::string>();
  return schema;
}

}  // namespace

std::string to_hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::optional<std::string> from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int high = digit(hex[i]);
    int low = digit(hex[i + 1]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

nlohmann::json encode_value(const Value& value) {
  if (const auto* b = std::get_if<bool>(&value)) {
    return *b;
  }
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    return *i;
  }
  if (const auto* d = std::get_if<double>(&value)) {
    // JSON has no NaN or infinity; the wrapper also keeps 1.0 from reading back as 1.
    if (std::isnan(*d)) {
      return {{"real", "nan"}};
    }
    if (std::isinf(*d)) {
      return {{"real", *d > 0 ? "inf" : "-inf"}};
    }
    return {{"real", *d}};
  }
  if (const auto* s = std::get_if<std::string>(&value)) {
    return *s;
  }
  if (const auto* bytes = std::get_if<Bytes>(&value)) {
    return {{"hex", to_hex(bytes->data)}};
  }
  return nullptr;
}

Result<Value> decode_value(const nlohmann::json& json) {
  if (json.is_null()) {
    return Value{};
  }
  if (json.is_boolean()) {
    return Value{json.get<bool>()};
  }
  if (json.is_number_integer()) {
    return Value{json.get<std::int64_t>()};
  }
  if (json.is_string()) {
    return Value{json.get<std::string>()};
  }
  if (json.is_object() && json.size() == 1 && json.contains("real")) {
    const nlohmann::json& real = json["real"];
    if (real.is_number()) {
      return Value{real.get<double>()};
    }
    if (real == "nan") {
      return Value{std::numeric_limits<double>::quiet_NaN()};
    }
    if (real == "inf" || real == "-inf") {
      const double inf = std::numeric_limits<double>::infinity();
      return Value{real == "inf" ? inf : -inf};
    }
  }
  if (json.is_object() && json.size() == 1 && json.contains("hex") && json["hex"].is_string()) {
    if (std::optional<std::string> bytes = from_hex(json["hex"].get<std::string>())) {
      return Value{Bytes{std::move(*bytes)}};
    }
  }
  return make_error(ErrorCode::kPermanent, "not an encoded value: {}", json.dump());
}

std::string encode_dead_change(const Change& change,
                               const std::optional<CollectionSchema>& schema) {
  nlohmann::json key = nlohmann::json::array();
  for (const Value& value : change.key) {
    key.push_back(encode_value(value));
  }
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& [name, value] : change.fields) {
    fields[name] = encode_value(value);
  }
  nlohmann::json doc = {{"op", to_string(change.op)},
                        {"collection", change.collection},
                        {"key", key},
                        {"fields", fields},
                        {"meta", change.meta},
                        {"position", change.position}};
  if (schema) {
    doc["schema"] = encode_schema(*schema);
  }
  // Invalid UTF-8 in text (a source's mislabelled bytes) is replaced rather
  // than failing the dead letter: losing it would be worse.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<DeadChange> decode_dead_change(const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorCode::kPermanent, "the stored change is not a JSON object");
  }
  try {
    DeadChange dead;
    std::optional<Op> op = op_from_string(doc.at("op").get<std::string>());
    if (!op) {
      return make_error(ErrorCode::kPermanent, "unknown op {}", doc.at("op").dump());
    }
    dead.change.op = *op;
    dead.change.collection = doc.at("collection").get<std::string>();
    for (const auto& item : doc.at("key")) {
      Result<Value> value = decode_value(item);
      if (!value) {
        return fail(value.error().with_context("key"));
      }
      dead.change.key.push_back(std::move(*value));
    }
    for (const auto& [name, item] : doc.at("fields").items()) {
      Result<Value> value = decode_value(item);
      if (!value) {
        return fail(value.error().with_context(fmt::format("field {}", name)));
      }
      dead.change.fields.emplace(name, std::move(*value));
    }
    dead.change.meta = doc.at("meta").get<std::map<std::string, std::string>>();
    dead.change.position = doc.at("position").get<std::string>();
    if (doc.contains("schema")) {
      dead.schema = decode_schema(doc["schema"]);
    }
    return dead;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kPermanent, "the stored change is malformed: {}", e.what());
  }
}

}  // namespace megasync::state
