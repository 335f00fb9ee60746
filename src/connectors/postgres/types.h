// PostgreSQL types to megasync types: type OIDs (as pgoutput Relation messages
// name them) and declared type names (as information_schema and format_type()
// print them) to ColumnType, ColumnType back to a type to create a column with,
// and the text form of a column value (pgoutput sends the type's text output)
// to a Value. The table is in README.md.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/change.h"
#include "core/error.h"
#include "core/value.h"

namespace megasync::connectors::postgres {

using Oid = std::uint32_t;

// Built-in type OIDs (pg_type.dat) that the conversions treat specially.
namespace type_oid {
inline constexpr Oid kBool = 16;
inline constexpr Oid kBytea = 17;
inline constexpr Oid kInt8 = 20;
inline constexpr Oid kInt2 = 21;
inline constexpr Oid kInt4 = 23;
inline constexpr Oid kText = 25;
inline constexpr Oid kOid = 26;
inline constexpr Oid kJson = 114;
inline constexpr Oid kFloat4 = 700;
inline constexpr Oid kFloat8 = 701;
inline constexpr Oid kBpchar = 1042;
inline constexpr Oid kVarchar = 1043;
inline constexpr Oid kDate = 1082;
inline constexpr Oid kTime = 1083;
inline constexpr Oid kTimestamp = 1114;
inline constexpr Oid kTimestampTz = 1184;
inline constexpr Oid kInterval = 1186;
inline constexpr Oid kNumeric = 1700;
inline constexpr Oid kUuid = 2950;
inline constexpr Oid kJsonb = 3802;
inline constexpr Oid kInt4Array = 1007;
inline constexpr Oid kTextArray = 1009;
}  // namespace type_oid

// The logical type of a built-in type OID. Array types are kArray; OIDs this
// table does not know (enums, domains, extension types) are kText: their text
// form passes through unchanged.
ColumnType column_type(Oid type);
// Whether `type` is a built-in type or array type this table knows.
bool known_type(Oid type);
// The element type of a built-in array type (1007 -> 23), or 0.
Oid array_element_type(Oid type);
// The type as format_type() prints it ("character varying(20)", "integer[]"),
// from the OID and atttypmod (-1 = none); "" for an OID the table does not know.
std::string format_type(Oid type, std::int32_t type_modifier);

// The logical type of a declared type name: "integer", "character varying(20)",
// "timestamp(3) with time zone", "numeric(10,2)", "text[]", "_int4" (udt_name),
// "pg_catalog.int8". Case and extra spaces do not matter; unknown names are kText.
ColumnType column_type(std::string_view declared);
// The type to create a target column of `type` with ("bigint", "timestamptz").
std::string declared_type(ColumnType type);
// The type to create a target column for `column` of a collection whose
// source_type names are of `type_system`: the source's own type when it is a
// PostgreSQL built-in (or an array of one) that still agrees with the column's
// ColumnType ("smallint", "numeric(10,2)", "character(5)", "json", "integer[]");
// otherwise declared_type(column.type) (enums, domains, other systems' types,
// and columns a transform retyped).
std::string column_declaration(const Column& column, std::string_view type_system);
// A JSON array (a kArray value) as a PostgreSQL array literal: `[1,null,"a b"]`
// -> `{1,NULL,"a b"}`; strings quoted and escaped, null as NULL, booleans t/f,
// nested arrays nested, objects as their JSON text. nullopt when `json` is not
// a JSON array.
std::optional<std::string> json_to_array_literal(std::string_view json);

// The Value of a column of type `type` from its text output. Errors (kPermanent)
// say what was expected; the caller adds the column. Unknown OIDs give text.
Result<Value> text_to_value(Oid type, std::string_view text);
// The Value of a column read with SQL (a snapshot, a reader) whose schema
// says `expected`: text_to_value, except for kArray columns stored as an array
// of a type the table does not know (an enum's: a JSON array of the elements'
// text, as streamed changes make it) or as json/jsonb (a target that keeps
// arrays as JSON: compact JSON text, as array_to_value prints it).
Result<Value> read_value(Oid type, ColumnType expected, std::string_view text);
// An array literal of elements of type `element` as JSON text (a Value of a
// kArray column). Element 0 (unknown) keeps the elements' text.
Result<Value> array_to_value(Oid element, std::string_view text);

}  // namespace megasync::connectors::postgres
