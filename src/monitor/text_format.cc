// Value formatting and escaping of the Prometheus text exposition (0.0.4).
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

#include "monitor/metrics.h"

namespace megasync::monitor {

std::string format_value(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  // The reference encoder uses Go's strconv.FormatFloat(v, 'g', -1, 64): the
  // shortest round-trip digits, in exponent form when the decimal exponent is
  // below -4 or at least 6 (Go fixes the threshold at 6 in shortest mode), so
  // 1756047.3 is "1.7560473e+06" while 2693 stays "2693".
  std::array<char, 64> buf{};
  auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific);
  std::string_view scientific(buf.data(), static_cast<std::size_t>(end - buf.data()));
  const std::size_t e = scientific.find('e');
  int exponent = 0;
  std::string_view digits = scientific.substr(e + 1);
  if (!digits.empty() && digits.front() == '+') {
    digits.remove_prefix(1);  // from_chars accepts '-' but not '+'
  }
  std::from_chars(digits.data(), digits.data() + digits.size(), exponent);
  if (exponent < -4 || exponent >= 6) {
    // Go and to_chars agree on this form: "1.7560473e+06", at least two
    // exponent digits with a sign.
    return std::string(scientific);
  }
  auto fixed = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed);
  return std::string(buf.data(), fixed.ptr);
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace megasync::monitor
