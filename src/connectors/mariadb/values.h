// The mariadb connector's pure encoding part, no I/O: SQL literals of values
// (escaped like mysql_real_escape_string for a utf8mb4 connection whose
// sql_mode has no NO_BACKSLASH_ESCAPES, which service.cc sets), identifier
// quoting, the column types created for ColumnTypes, and values read back from
// the text protocol.
//
// Thread-safety: pure functions.
#pragma once

#include <mysql.h>

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/value.h"

namespace megasync::connectors::mariadb {

// `name` in backticks, backticks doubled: we`ird -> `we``ird`.
std::string quote_ident(std::string_view name);
// 'text' with \0 ' " \ newline, carriage return and ^Z backslash-escaped.
std::string quote_literal(std::string_view text);

// ISO timestamp text as DATETIME input: "2024-01-02T03:04:05.5Z" ->
// "2024-01-02 03:04:05.5" (the 'T' becomes a space; a UTC suffix "Z",
// "+00:00", "+0000" or "+00" is dropped). Other text is returned unchanged.
std::string to_datetime_text(std::string_view text);

// Appends the SQL literal of `value`, stored in a column of logical type
// `type`: NULL, 1/0, integers, doubles in their shortest exact form, quoted
// text (timestamps rewritten by to_datetime_text), bytes as X'hex'. Fails
// (kPermanent) on NaN and infinities, which MariaDB cannot store.
Status append_literal(const Value& value, ColumnType type, std::string& out);

// The MariaDB column type created for `type`; `key` when the column is part of
// the primary key (text and bytes then need a length: VARCHAR(255), VARBINARY(255)).
std::string declared_type(ColumnType type, bool key);

// The Value of one non-NULL field of a text-protocol result: integers as int64
// (as bool for a kBoolean column), FLOAT/DOUBLE as double, DECIMAL as text,
// binary strings and blobs (charset 63) as Bytes, other strings as text,
// DATETIME/TIMESTAMP as 'YYYY-MM-DD HH:MM:SS[.ffffff]' with a 'Z' added for a
// kTimestampTz column (stored in UTC). Integers that do not fit int64 stay text.
Value field_value(enum_field_types field_type, unsigned int charsetnr, ColumnType column,
                  std::string_view text);

}  // namespace megasync::connectors::mariadb
