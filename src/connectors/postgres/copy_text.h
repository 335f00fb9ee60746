// The COPY text format (the default format of COPY FROM STDIN / TO STDOUT):
// encoding values for COPY FROM (NULL as \N, backslash escapes for backslash,
// newline, carriage return and tab, booleans as t/f, bytes as \\x<hex>) and
// splitting the rows COPY TO sends back into fields. Pure, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/value.h"

namespace megasync::connectors::postgres {

// Appends the COPY text form of `value` to `out`.
void append_copy_value(const Value& value, std::string& out);

// Splits one row of COPY TO's text output (fields separated by tabs, a final
// newline optional) into `fields`, undoing the backslash escapes (\b \f \n \r
// \t \v, octal \NNN, hex \xHH, any other escaped character as itself); a
// field of exactly \N is NULL (nullopt). Reuses `fields`' storage. Fails
// (kPermanent) on a backslash at the very end of the row.
Status parse_copy_row(std::string_view row, std::vector<std::optional<std::string>>& fields);

}  // namespace megasync::connectors::postgres
