#include "connectors/postgres/text_format.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>

namespace megasync::connectors::postgres {

// Howard Hinnant's days_from_civil: exact for any int64 year we can see here.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

namespace {

// ---- dates and times ----

struct CivilDate {
  std::int64_t year = 0;
  unsigned month = 1;
  unsigned day = 1;
};

CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

bool leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// A cursor over text being parsed; every read checks bounds.
struct Cursor {
  std::string_view text;
  std::size_t pos = 0;

  bool done() const { return pos == text.size(); }
  bool peek(char c) const { return pos < text.size() && text[pos] == c; }
  bool take(char c) {
    if (peek(c)) {
      ++pos;
      return true;
    }
    return false;
  }
  // Exactly `min`..`max` decimal digits.
  std::optional<std::int64_t> digits(std::size_t min, std::size_t max) {
    std::int64_t value = 0;
    std::size_t n = 0;
    while (pos < text.size() && n < max && text[pos] >= '0' && text[pos] <= '9') {
      value = value * 10 + (text[pos] - '0');
      ++pos;
      ++n;
    }
    if (n < min) {
      return std::nullopt;
    }
    return value;
  }
};

struct DateTime {
  std::int64_t year = 0;  // astronomical
  unsigned month = 1;
  unsigned day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::string fraction;  // digits after the point, trailing zeros removed
  int offset_seconds = 0;
};

// "YYYY-MM-DD" (year: 4+ digits, as PostgreSQL prints it).
bool parse_date(Cursor& in, DateTime& out) {
  // PostgreSQL's years end at 5874897 (dates); 7 digits keep the second
  // arithmetic far from int64 overflow.
  auto y = in.digits(4, 7);
  if (!y || !in.take('-')) {
    return false;
  }
  auto m = in.digits(2, 2);
  if (!m || !in.take('-')) {
    return false;
  }
  auto d = in.digits(2, 2);
  if (!d || *m < 1 || *m > 12 || *d < 1) {
    return false;
  }
  out.year = *y;
  out.month = static_cast<unsigned>(*m);
  out.day = static_cast<unsigned>(*d);
  return true;
}

// "HH:MM:SS[.ffffff]".
bool parse_time(Cursor& in, DateTime& out) {
  auto h = in.digits(2, 2);
  if (!h || !in.take(':')) {
    return false;
  }
  auto mi = in.digits(2, 2);
  if (!mi || !in.take(':')) {
    return false;
  }
  auto s = in.digits(2, 2);
  if (!s || *h > 23 || *mi > 59 || *s > 59) {
    return false;
  }
  out.hour = static_cast<int>(*h);
  out.minute = static_cast<int>(*mi);
  out.second = static_cast<int>(*s);
  if (in.take('.')) {
    std::size_t start = in.pos;
    if (!in.digits(1, 6)) {
      return false;
    }
    out.fraction = std::string(in.text.substr(start, in.pos - start));
    while (!out.fraction.empty() && out.fraction.back() == '0') {
      out.fraction.pop_back();
    }
  }
  return true;
}

// "+HH", "+HH:MM", "+HH:MM:SS" (historical zones have seconds), or "-...".
bool parse_offset(Cursor& in, DateTime& out) {
  int sign = 0;
  if (in.take('+')) {
    sign = 1;
  } else if (in.take('-')) {
    sign = -1;
  } else {
    return false;
  }
  auto h = in.digits(2, 2);
  if (!h || *h > 15) {
    return false;
  }
  std::int64_t total = *h * 3600;
  if (in.take(':')) {
    auto m = in.digits(2, 2);
    if (!m || *m > 59) {
      return false;
    }
    total += *m * 60;
    if (in.take(':')) {
      auto s = in.digits(2, 2);
      if (!s || *s > 59) {
        return false;
      }
      total += *s;
    }
  }
  out.offset_seconds = sign * static_cast<int>(total);
  return true;
}

// " BC" turns the year into an astronomical one (1 BC is year 0).
bool parse_era(Cursor& in, DateTime& out) {
  if (in.text.substr(in.pos) == " BC") {
    in.pos = in.text.size();
    if (out.year == 0) {
      return false;
    }
    out.year = 1 - out.year;
  }
  return in.done() && out.day <= days_in_month(out.year, out.month);
}

// Appends `value` in decimal, zero-padded to `width` digits.
void append_padded(std::string& out, std::uint64_t value, std::size_t width) {
  const fmt::format_int text(value);
  if (text.size() < width) {
    out.append(width - text.size(), '0');
  }
  out.append(text.data(), text.size());
}

std::string format_date(std::int64_t year, unsigned month, unsigned day) {
  // Written digit by digit: one per date and timestamp value read.
  std::string out;
  out.reserve(32);
  if (year < 0) {
    out += '-';
  }
  const auto magnitude = static_cast<std::uint64_t>(year);
  append_padded(out, year < 0 ? 0 - magnitude : magnitude, 4);
  out += '-';
  append_padded(out, month, 2);
  out += '-';
  append_padded(out, day, 2);
  return out;
}

std::string format_date_time(const DateTime& t) {
  std::string out = format_date(t.year, t.month, t.day);
  out += 'T';
  append_padded(out, static_cast<std::uint64_t>(t.hour), 2);
  out += ':';
  append_padded(out, static_cast<std::uint64_t>(t.minute), 2);
  out += ':';
  append_padded(out, static_cast<std::uint64_t>(t.second), 2);
  if (!t.fraction.empty()) {
    out += '.';
    out += t.fraction;
  }
  return out;
}

tl::unexpected<Error> invalid(std::string_view what, std::string_view text) {
  return make_error(ErrorCode::kPermanent,
                    "invalid {} \"{}\" (expected PostgreSQL's ISO output; is DateStyle ISO?)", what,
                    text);
}

bool is_infinity(std::string_view text) {
  return text == "infinity" || text == "-infinity";
}

// ---- arrays ----

constexpr int kMaxArrayDepth = 6;  // PostgreSQL's MAXDIM

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

class ArrayParser {
 public:
  ArrayParser(std::string_view text, const ElementConverter& element)
      : in_{text}, element_(element) {}

  Result<nlohmann::json> parse() {
    skip_bounds();
    auto value = parse_array(1);
    if (!value) {
      return value;
    }
    skip_space();
    if (!in_.done()) {
      return error("unexpected text after the closing brace");
    }
    return value;
  }

 private:
  // "[0:1][1:2]=" precedes arrays whose lower bounds are not 1; JSON has no
  // bounds, so they are dropped.
  void skip_bounds() {
    if (in_.peek('[')) {
      auto eq = in_.text.find('=');
      if (eq != std::string_view::npos) {
        in_.pos = eq + 1;
      }
    }
  }

  void skip_space() {
    while (!in_.done() && is_space(in_.text[in_.pos])) {
      ++in_.pos;
    }
  }

  tl::unexpected<Error> error(std::string_view what) const {
    // Only the start of the literal: it may be long, and it is row data.
    constexpr std::size_t kShown = 40;
    std::string_view shown = in_.text.substr(0, kShown);
    return make_error(ErrorCode::kPermanent, "invalid array literal \"{}{}\" at byte {}: {}", shown,
                      in_.text.size() > kShown ? "..." : "", in_.pos, what);
  }

  Result<nlohmann::json> parse_array(int depth) {
    if (depth > kMaxArrayDepth) {
      return error("more than 6 dimensions");
    }
    skip_space();
    if (!in_.take('{')) {
      return error("expected '{'");
    }
    auto out = nlohmann::json::array();
    skip_space();
    if (in_.take('}')) {
      return out;
    }
    while (true) {
      skip_space();
      Result<nlohmann::json> item = in_.peek('{') ? parse_array(depth + 1) : parse_element();
      if (!item) {
        return item;
      }
      out.push_back(*std::move(item));
      skip_space();
      if (in_.take('}')) {
        return out;
      }
      if (!in_.take(',')) {
        return error("expected ',' or '}'");
      }
    }
  }

  Result<nlohmann::json> parse_element() {
    std::string text;
    bool quoted = false;
    if (in_.take('"')) {
      quoted = true;
      while (true) {
        if (in_.done()) {
          return error("unterminated quoted element");
        }
        char c = in_.text[in_.pos++];
        if (c == '"') {
          break;
        }
        if (c == '\\') {
          if (in_.done()) {
            return error("backslash at the end");
          }
          c = in_.text[in_.pos++];
        }
        text += c;
      }
    } else {
      // Unquoted: up to ',' or '}', surrounding space trimmed; a backslash
      // still escapes (array_in accepts it) and makes the element non-NULL.
      std::size_t kept = 0;  // length without trailing unescaped space
      while (!in_.done() && !in_.peek(',') && !in_.peek('}')) {
        char c = in_.text[in_.pos++];
        if (c == '{' || c == '"') {
          return error("unexpected character in an unquoted element");
        }
        if (c == '\\') {
          if (in_.done()) {
            return error("backslash at the end");
          }
          quoted = true;
          text += in_.text[in_.pos++];
          kept = text.size();
          continue;
        }
        text += c;
        if (!is_space(c)) {
          kept = text.size();
        }
      }
      text.resize(kept);
      if (text.empty() && !quoted) {
        return error("empty unquoted element");
      }
    }
    if (!quoted && text.size() == 4 && (text[0] | 0x20) == 'n' && (text[1] | 0x20) == 'u' &&
        (text[2] | 0x20) == 'l' && (text[3] | 0x20) == 'l') {
      return nlohmann::json(nullptr);
    }
    return element_(text);
  }

  Cursor in_;
  const ElementConverter& element_;
};

}  // namespace

Result<std::string> timestamptz_to_iso(std::string_view text) {
  if (is_infinity(text)) {
    return std::string(text);
  }
  Cursor in{text};
  DateTime t;
  if (!parse_date(in, t) || !in.take(' ') || !parse_time(in, t) || !parse_offset(in, t) ||
      !parse_era(in, t)) {
    return invalid("timestamp with time zone", text);
  }
  // Local time minus the offset is UTC; the shift may cross days, months, years.
  std::int64_t seconds = days_from_civil(t.year, t.month, t.day) * 86400 +
                         std::int64_t{t.hour} * 3600 + std::int64_t{t.minute} * 60 + t.second -
                         t.offset_seconds;
  std::int64_t days = seconds / 86400;
  std::int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  CivilDate date = civil_from_days(days);
  t.year = date.year;
  t.month = date.month;
  t.day = date.day;
  t.hour = static_cast<int>(rest / 3600);
  t.minute = static_cast<int>(rest % 3600 / 60);
  t.second = static_cast<int>(rest % 60);
  std::string out = format_date_time(t);
  out += 'Z';
  return out;
}

Result<std::string> timestamp_to_iso(std::string_view text) {
  if (is_infinity(text)) {
    return std::string(text);
  }
  Cursor in{text};
  DateTime t;
  if (!parse_date(in, t) || !in.take(' ') || !parse_time(in, t) || !parse_era(in, t)) {
    return invalid("timestamp", text);
  }
  return format_date_time(t);
}

Result<std::string> date_to_iso(std::string_view text) {
  if (is_infinity(text)) {
    return std::string(text);
  }
  Cursor in{text};
  DateTime t;
  if (!parse_date(in, t) || !parse_era(in, t)) {
    return invalid("date", text);
  }
  return format_date(t.year, t.month, t.day);
}

namespace {

constexpr std::int64_t kPgEpochDays = 10957;  // 2000-01-01, days since 1970-01-01
constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// The digits of a microsecond fraction, without trailing zeros.
std::string fraction_of(std::int64_t micros) {
  if (micros == 0) {
    return {};
  }
  std::string out;
  append_padded(out, static_cast<std::uint64_t>(micros), 6);
  while (out.back() == '0') {
    out.pop_back();
  }
  return out;
}

}  // namespace

std::string binary_date_to_iso(std::int32_t days) {
  if (days == std::numeric_limits<std::int32_t>::max()) {
    return "infinity";
  }
  if (days == std::numeric_limits<std::int32_t>::min()) {
    return "-infinity";
  }
  const CivilDate date = civil_from_days(kPgEpochDays + days);
  return format_date(date.year, date.month, date.day);
}

std::string binary_timestamp_to_iso(std::int64_t micros, bool with_zone) {
  if (micros == std::numeric_limits<std::int64_t>::max()) {
    return "infinity";
  }
  if (micros == std::numeric_limits<std::int64_t>::min()) {
    return "-infinity";
  }
  std::int64_t days = micros / kMicrosPerDay;
  std::int64_t rest = micros % kMicrosPerDay;
  if (rest < 0) {
    rest += kMicrosPerDay;
    --days;
  }
  const CivilDate date = civil_from_days(kPgEpochDays + days);
  DateTime t;
  t.year = date.year;
  t.month = date.month;
  t.day = date.day;
  const std::int64_t seconds = rest / kMicrosPerSecond;
  t.hour = static_cast<int>(seconds / 3600);
  t.minute = static_cast<int>(seconds % 3600 / 60);
  t.second = static_cast<int>(seconds % 60);
  t.fraction = fraction_of(rest % kMicrosPerSecond);
  std::string out = format_date_time(t);
  if (with_zone) {
    out += 'Z';
  }
  return out;
}

std::string binary_time_to_text(std::int64_t micros) {
  const std::int64_t seconds = micros / kMicrosPerSecond;
  std::string out;
  out.reserve(15);
  append_padded(out, static_cast<std::uint64_t>(seconds / 3600), 2);
  out += ':';
  append_padded(out, static_cast<std::uint64_t>(seconds % 3600 / 60), 2);
  out += ':';
  append_padded(out, static_cast<std::uint64_t>(seconds % 60), 2);
  if (std::string fraction = fraction_of(micros % kMicrosPerSecond); !fraction.empty()) {
    out += '.';
    out += fraction;
  }
  return out;
}

Result<std::string> bytea_to_bytes(std::string_view text) {
  auto hex_value = [](char c) -> int {
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
  };
  std::string out;
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
    text.remove_prefix(2);
    if (text.size() % 2 != 0) {
      return make_error(ErrorCode::kPermanent, "invalid bytea: odd number of hex digits");
    }
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
      int high = hex_value(text[i]);
      int low = hex_value(text[i + 1]);
      if (high < 0 || low < 0) {
        return make_error(ErrorCode::kPermanent, "invalid bytea: bad hex digit at byte {}", i + 2);
      }
      out.push_back(static_cast<char>(high * 16 + low));
    }
    return out;
  }
  // Escape format (bytea_output = 'escape'): "\\" is a backslash, "\ooo" an
  // octal byte, anything else itself.
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
      continue;
    }
    auto octal = [&](std::size_t at) {
      return at < text.size() && text[at] >= '0' && text[at] <= '7';
    };
    if (octal(i + 1) && octal(i + 2) && octal(i + 3) && text[i + 1] <= '3') {
      out.push_back(static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                                      (text[i + 3] - '0')));
      i += 3;
      continue;
    }
    return make_error(ErrorCode::kPermanent, "invalid bytea: bad escape at byte {}", i);
  }
  return out;
}

Result<nlohmann::json> array_to_json(std::string_view text, const ElementConverter& element) {
  return ArrayParser(text, element).parse();
}

std::string iso_to_pg_input(std::string_view iso) {
  const bool negative = iso.starts_with('-');
  std::string_view digits = negative ? iso.substr(1) : iso;
  const std::size_t dash = digits.find('-');
  if (dash == std::string_view::npos || dash < 4 ||
      digits.substr(0, dash).find_first_not_of("0123456789") != std::string_view::npos) {
    return std::string(iso);
  }
  std::int64_t year = 0;
  (void)std::from_chars(digits.data(), digits.data() + dash, year);
  if (negative) {
    year = -year;
  }
  if (year > 0) {
    return std::string(iso);
  }
  return fmt::format("{:04}{} BC", 1 - year, digits.substr(dash));
}

}  // namespace megasync::connectors::postgres
