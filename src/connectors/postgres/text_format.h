// Parsers for the text output of PostgreSQL types whose text megasync
// rewrites: timestamps and dates (DateStyle ISO) to ISO-8601, bytea (hex and
// escape formats) to bytes, and array literals ('{1,NULL,"a b"}') to JSON.
// The rest of types.cc dispatches on type OIDs; this file only knows text.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace megasync::connectors::postgres {

// Days since 1970-01-01 of a proleptic Gregorian date (astronomical year).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

// timestamptz output ("2024-01-02 05:04:05.123456+02", "+05:30", "+05:53:28",
// a trailing " BC") to UTC ISO-8601 ("2024-01-02T03:04:05.123456Z"). Fractions
// keep their digits without trailing zeros; years are astronomical (1 BC is
// 0000, 44 BC is -0043) and at least 4 digits. "infinity" and "-infinity" pass
// through. Other text (another DateStyle) is kPermanent.
Result<std::string> timestamptz_to_iso(std::string_view text);
// timestamp output ("2024-01-02 03:04:05.5") to "2024-01-02T03:04:05.5", years
// as above; no zone is added or converted.
Result<std::string> timestamp_to_iso(std::string_view text);
// date output ("2024-01-02", "0044-03-15 BC") to ISO ("-0043-03-15").
Result<std::string> date_to_iso(std::string_view text);
// The same ISO-8601 text of the binary forms (COPY ... (FORMAT binary)): a
// date as days since 2000-01-01, a timestamp(tz) as microseconds since
// 2000-01-01 00:00 (UTC for timestamptz, which gets the "Z"), the extremes
// PostgreSQL uses for infinity as "infinity" and "-infinity".
std::string binary_date_to_iso(std::int32_t days);
std::string binary_timestamp_to_iso(std::int64_t micros, bool with_zone);
// A time as microseconds since midnight, as PostgreSQL prints it
// ("05:04:03", "05:04:03.12"; 24:00:00 is a time).
std::string binary_time_to_text(std::int64_t micros);
// The way back, for a date or timestamp column of a PostgreSQL target: an ISO
// date or timestamp with an astronomical year 0 or below ("-0043-03-15",
// "0000-01-01T00:00:00Z") in PostgreSQL's era form ("0044-03-15 BC",
// "0001-01-01T00:00:00Z BC"), which its input reads; other text unchanged.
std::string iso_to_pg_input(std::string_view iso);

// bytea output: hex format ("\x0a0b") or the old escape format ("a\\000\\\\").
Result<std::string> bytea_to_bytes(std::string_view text);

// Converts one array element's text; `null` is never passed (NULL elements are
// JSON null).
using ElementConverter = std::function<Result<nlohmann::json>(std::string_view text)>;
// An array literal ('{1,2,NULL,"a b"}', nested '{{1,2},{3,4}}', with optional
// bounds '[0:1]={1,2}') to a JSON array, each element through `element`.
Result<nlohmann::json> array_to_json(std::string_view text, const ElementConverter& element);

}  // namespace megasync::connectors::postgres
