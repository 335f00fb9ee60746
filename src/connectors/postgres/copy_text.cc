#include "connectors/postgres/copy_text.h"

#include <fmt/format.h>

#include <cmath>

namespace megasync::connectors::postgres {
namespace {

void append_escaped(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
}

}  // namespace

void append_copy_value(const Value& value, std::string& out) {
  struct Encoder {
    std::string& out;
    void operator()(std::monostate) const { out += "\\N"; }
    void operator()(bool b) const { out += b ? 't' : 'f'; }
    void operator()(std::int64_t i) const { fmt::format_to(std::back_inserter(out), "{}", i); }
    void operator()(double d) const {
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        fmt::format_to(std::back_inserter(out), "{}", d);  // shortest exact form
      }
    }
    void operator()(const std::string& s) const { append_escaped(s, out); }
    void operator()(const Bytes& b) const {
      out += "\\\\x";  // bytea hex input, its backslash escaped for COPY
      for (unsigned char c : b.data) {
        fmt::format_to(std::back_inserter(out), "{:02x}", c);
      }
    }
  };
  std::visit(Encoder{out}, value);
}

}  // namespace megasync::connectors::postgres
