// The stored form of a dead letter's change: a compact JSON document that
// keeps every value exactly (integers, doubles including NaN and infinities,
// text, bytes as hex, null), the meta, the op, the position and, when known,
// the collection's schema.
//
//   {"op":"upsert","collection":"orders","key":[7],
//    "fields":{"payload":{"hex":"00ff"},"price":{"real":1.5},"name":"x"},
//    "meta":{"header:a":"b"},"position":"...","schema":{...}}
//
// A value: null, true/false, an integer, text as a JSON string, {"real": x}
// (x a number or "nan" / "inf" / "-inf"), {"hex": "..."} for bytes.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/change.h"
#include "core/error.h"

namespace megasync::state {

nlohmann::json encode_value(const Value& value);
// kPermanent naming what is wrong when `json` is no encoded value.
Result<Value> decode_value(const nlohmann::json& json);

std::string encode_dead_change(const Change& change, const std::optional<CollectionSchema>& schema);
struct DeadChange {
  Change change;
  std::optional<CollectionSchema> schema;
};
// kPermanent when `text` is not what encode_dead_change wrote.
Result<DeadChange> decode_dead_change(const std::string& text);

// Bytes as lowercase hex, and back (nullopt for an odd length or a non-hex digit).
std::string to_hex(const std::string& bytes);
std::optional<std::string> from_hex(const std::string& hex);

}  // namespace megasync::state
