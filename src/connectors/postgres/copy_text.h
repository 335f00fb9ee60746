// COPY text format encoding of values (the "text" format of COPY FROM STDIN):
// NULL as \N, backslash escapes for backslash, newline, carriage return and
// tab, booleans as t/f, bytes as \\x<hex>. Pure, no I/O.
#pragma once

#include <string>

#include "core/value.h"

namespace megasync::connectors::postgres {

// Appends the COPY text form of `value` to `out`.
void append_copy_value(const Value& value, std::string& out);

}  // namespace megasync::connectors::postgres
