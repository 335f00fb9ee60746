#include "connectors/postgres/copy_text.h"

#include <fmt/format.h>

#include <cmath>

namespace megasync::connectors::postgres {
namespace {

bool needs_escape(char c) {
  return c == '\\' || c == '\n' || c == '\r' || c == '\t';
}

void append_escaped(std::string_view text, std::string& out) {
  // Runs without a special character (nearly every value) are appended whole.
  std::size_t from = 0;
  while (true) {
    std::size_t at = from;
    while (at < text.size() && !needs_escape(text[at])) {
      ++at;
    }
    out.append(text.substr(from, at - from));
    if (at == text.size()) {
      return;
    }
    switch (text[at]) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += "\\t";
    }
    from = at + 1;
  }
}

}  // namespace

void append_copy_value(const Value& value, std::string& out) {
  struct Encoder {
    std::string& out;
    void operator()(std::monostate) const { out += "\\N"; }
    void operator()(bool b) const { out += b ? 't' : 'f'; }
    void operator()(std::int64_t i) const {
      const fmt::format_int text(i);
      out.append(text.data(), text.size());
    }
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
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\\\x";  // bytea hex input, its backslash escaped for COPY
      for (unsigned char c : b.data) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  };
  std::visit(Encoder{out}, value);
}

namespace {

int hex_digit(char c) {
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
}

}  // namespace

Status parse_copy_row(std::string_view row, std::vector<std::optional<std::string>>& fields) {
  if (!row.empty() && row.back() == '\n') {
    row.remove_suffix(1);
  }
  std::size_t count = 0;
  std::size_t i = 0;
  while (true) {
    if (fields.size() <= count) {
      fields.emplace_back();
    }
    std::optional<std::string>& field = fields[count++];
    const std::size_t end = std::min(row.find('\t', i), row.size());
    const std::string_view raw = row.substr(i, end - i);
    if (raw == "\\N") {
      field.reset();
    } else if (raw.find('\\') == std::string_view::npos) {
      if (field) {
        field->assign(raw);  // keeps the string's storage from the previous row
      } else {
        field.emplace(raw);
      }
    } else {
      std::string& out = field ? *field : field.emplace();
      out.clear();
      out.reserve(raw.size());
      for (std::size_t j = 0; j < raw.size(); ++j) {
        if (raw[j] != '\\') {
          out += raw[j];
          continue;
        }
        if (++j == raw.size()) {
          return make_error(ErrorCode::kPermanent, "COPY row ends in a lone backslash");
        }
        const char c = raw[j];
        switch (c) {
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'v':
            out += '\v';
            break;
          case 'x': {
            int value = 0;
            int digits = 0;
            while (digits < 2 && j + 1 < raw.size() && hex_digit(raw[j + 1]) >= 0) {
              value = value * 16 + hex_digit(raw[++j]);
              ++digits;
            }
            out += digits == 0 ? 'x' : static_cast<char>(value);
            break;
          }
          default:
            if (c >= '0' && c <= '7') {
              int value = c - '0';
              for (int digits = 1;
                   digits < 3 && j + 1 < raw.size() && raw[j + 1] >= '0' && raw[j + 1] <= '7';
                   ++digits) {
                value = value * 8 + (raw[++j] - '0');
              }
              out += static_cast<char>(value);
            } else {
              out += c;
            }
        }
      }
    }
    if (end == row.size()) {
      break;
    }
    i = end + 1;
  }
  fields.resize(count);
  return ok();
}

}  // namespace megasync::connectors::postgres
