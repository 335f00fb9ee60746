#include "connectors/postgres/lsn.h"

#include <fmt/format.h>

#include <charconv>

namespace megasync::connectors::postgres {
namespace {

// Parses 1..max_digits hex digits making up all of `text`.
bool parse_hex(std::string_view text, std::size_t max_digits, std::uint64_t& out) {
  if (text.empty() || text.size() > max_digits) {
    return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<Lsn> parse_lsn(std::string_view text) {
  auto slash = text.find('/');
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  // from_chars would accept neither sign nor "0x", but check for them anyway so
  // that the rule does not depend on that detail: digits only.
  bool digits_only = text.find_first_not_of("0123456789abcdefABCDEF/") == std::string_view::npos;
  if (slash == std::string_view::npos || !digits_only ||
      !parse_hex(text.substr(0, slash), 8, high) || !parse_hex(text.substr(slash + 1), 8, low)) {
    return make_error(ErrorCode::kPermanent,
                      "invalid LSN \"{}\" (expected two hex numbers, as in 16/B374D848)", text);
  }
  return (high << 32) | low;
}

std::string format_lsn(Lsn lsn) {
  return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xFFFFFFFFu);
}

Position lsn_to_position(Lsn lsn) {
  return fmt::format("{:016X}", lsn);
}

Result<Lsn> position_to_lsn(const Position& position) {
  if (position.empty()) {
    return Lsn{0};
  }
  std::uint64_t lsn = 0;
  bool digits_only = position.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
  if (position.size() != 16 || !digits_only || !parse_hex(position, 16, lsn)) {
    return make_error(ErrorCode::kPermanent,
                      "invalid postgres position \"{}\" (expected 16 hex digits)", position);
  }
  return lsn;
}

}  // namespace megasync::connectors::postgres
