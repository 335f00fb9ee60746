#include "connectors/postgres/copy_binary.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/postgres/text_format.h"

namespace megasync::connectors::postgres {
namespace {

constexpr std::int64_t kPgEpochDays = 10957;  // 2000-01-01, days since 1970-01-01
constexpr std::int64_t kMicrosPerDay = 86'400'000'000;

void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}
void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += static_cast<char>((v >> shift) & 0xff);
  }
}
void put64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((v >> shift) & 0xff);
  }
}
// A field: its length, then its bytes.
void put_bytes(std::string& out, std::string_view bytes) {
  put32(out, static_cast<std::uint32_t>(bytes.size()));
  out += bytes;
}

// Exactly `n` decimal digits at `text[at]`; advances `at`.
bool digits(std::string_view text, std::size_t& at, std::size_t n, int& value) {
  if (at + n > text.size()) {
    return false;
  }
  value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[at + i];
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  at += n;
  return true;
}

bool leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// "YYYY-MM-DD" (years 1 to 9999, as the sources write them) at `at`: days
// since 2000-01-01.
bool parse_date(std::string_view text, std::size_t& at, std::int64_t& days) {
  static constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int year = 0;
  int month = 0;
  int day = 0;
  if (!digits(text, at, 4, year) || at >= text.size() || text[at++] != '-' ||
      !digits(text, at, 2, month) || at >= text.size() || text[at++] != '-' ||
      !digits(text, at, 2, day)) {
    return false;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      day > kDaysIn[month - 1] + (month == 2 && leap(year) ? 1 : 0)) {
    return false;
  }
  days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) -
         kPgEpochDays;
  return true;
}

// "HH:MM:SS" with up to 6 fraction digits at `at`: microseconds of the day.
// "24:00:00" only when `allow_24`.
bool parse_time(std::string_view text, std::size_t& at, bool allow_24, std::int64_t& micros) {
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!digits(text, at, 2, hour) || at >= text.size() || text[at++] != ':' ||
      !digits(text, at, 2, minute) || at >= text.size() || text[at++] != ':' ||
      !digits(text, at, 2, second)) {
    return false;
  }
  std::int64_t fraction = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    std::size_t n = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (++n > 6) {
        return false;  // rounding is the server's (the text form)
      }
      fraction = fraction * 10 + (text[at++] - '0');
    }
    if (n == 0) {
      return false;
    }
    for (; n < 6; ++n) {
      fraction *= 10;
    }
  }
  if (minute > 59 || second > 59) {
    return false;
  }
  if (hour == 24 ? !(allow_24 && minute == 0 && second == 0 && fraction == 0) : hour > 23) {
    return false;
  }
  micros = ((std::int64_t{hour} * 60 + minute) * 60 + second) * 1'000'000 + fraction;
  return true;
}

// "Z", "+HH", "+HH:MM", "+HH:MM:SS" (or '-') at `at`: seconds east of UTC.
bool parse_zone(std::string_view text, std::size_t& at, std::int64_t& offset) {
  if (at < text.size() && text[at] == 'Z') {
    ++at;
    offset = 0;
    return true;
  }
  if (at >= text.size() || (text[at] != '+' && text[at] != '-')) {
    return false;
  }
  const int sign = text[at++] == '-' ? -1 : 1;
  int hours = 0;
  int minutes = 0;
  int seconds = 0;
  if (!digits(text, at, 2, hours)) {
    return false;
  }
  if (at < text.size() && text[at] == ':') {
    ++at;
    if (!digits(text, at, 2, minutes)) {
      return false;
    }
    if (at < text.size() && text[at] == ':') {
      ++at;
      if (!digits(text, at, 2, seconds)) {
        return false;
      }
    }
  }
  if (minutes > 59 || seconds > 59) {
    return false;
  }
  offset = sign * ((std::int64_t{hours} * 60 + minutes) * 60 + seconds);
  return true;
}

// An ISO-8601 timestamp, "YYYY-MM-DDTHH:MM:SS[.ffffff]" and, for a timestamptz
// (`zoned`), a zone: microseconds since 2000-01-01 00:00 (UTC when zoned).
bool parse_timestamp(std::string_view text, bool zoned, std::int64_t& micros) {
  std::size_t at = 0;
  std::int64_t days = 0;
  std::int64_t time = 0;
  std::int64_t offset = 0;
  if (!parse_date(text, at, days) || at >= text.size() || text[at++] != 'T' ||
      !parse_time(text, at, false, time)) {
    return false;
  }
  if (zoned && !parse_zone(text, at, offset)) {
    return false;
  }
  if (at != text.size()) {
    return false;
  }
  micros = days * kMicrosPerDay + time - offset * 1'000'000;
  return true;
}

// A plain decimal ("-12.340", "7", "0.0001"; no exponent, NaN or infinity) as
// a binary numeric: base-10000 digits around the decimal point.
bool put_numeric(std::string& out, std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  const std::size_t point = text.find('.');
  std::string_view whole = text.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  if (whole.empty() && fraction.empty()) {
    return false;
  }
  auto all_digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(whole) || !all_digits(fraction) ||
      (point != std::string_view::npos && fraction.empty())) {
    return false;
  }
  while (!whole.empty() && whole.front() == '0') {
    whole.remove_prefix(1);
  }
  if (fraction.size() > 0x3FFF) {
    return false;  // past numeric's display scale
  }
  // Groups of 4 digits from the point outwards: the whole part padded on the
  // left, the fraction on the right.
  std::vector<std::uint16_t> groups;
  const std::size_t lead = (4 - whole.size() % 4) % 4;
  int value = 0;
  int count = static_cast<int>(lead);
  for (char c : whole) {
    value = value * 10 + (c - '0');
    if (++count == 4) {
      groups.push_back(static_cast<std::uint16_t>(value));
      value = 0;
      count = 0;
    }
  }
  const auto whole_groups = static_cast<int>(groups.size());
  for (char c : fraction) {
    value = value * 10 + (c - '0');
    if (++count == 4) {
      groups.push_back(static_cast<std::uint16_t>(value));
      value = 0;
      count = 0;
    }
  }
  if (count > 0) {
    for (; count < 4; ++count) {
      value *= 10;
    }
    groups.push_back(static_cast<std::uint16_t>(value));
  }
  int weight = whole_groups - 1;
  std::size_t first = 0;
  while (first < groups.size() && groups[first] == 0) {
    ++first;
    --weight;
  }
  std::size_t last = groups.size();
  while (last > first && groups[last - 1] == 0) {
    --last;
  }
  if (first == last) {
    weight = 0;  // zero: no digits
    negative = false;
  }
  if (last - first > 0xFFFF || weight > 0x7FFF || weight < -0x8000) {
    return false;
  }
  put32(out, static_cast<std::uint32_t>(8 + 2 * (last - first)));
  put16(out, static_cast<std::uint16_t>(last - first));
  put16(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(weight)));
  put16(out, negative ? 0x4000 : 0x0000);
  put16(out, static_cast<std::uint16_t>(fraction.size()));
  for (std::size_t i = first; i < last; ++i) {
    put16(out, groups[i]);
  }
  return true;
}

bool put_uuid(std::string& out, std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return false;
  }
  std::string bytes;
  bytes.reserve(16);
  int nibble = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      continue;
    }
    const char c = text[i];
    int v = 0;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return false;
    }
    if (nibble < 0) {
      nibble = v;
    } else {
      bytes += static_cast<char>(nibble << 4 | v);
      nibble = -1;
    }
  }
  put_bytes(out, bytes);
  return true;
}

// An integer column of `size` bytes.
bool put_integer(std::string& out, const Value& value, int size) {
  const auto* v = std::get_if<std::int64_t>(&value);
  if (v == nullptr) {
    return false;
  }
  switch (size) {
    case 2:
      if (*v < std::numeric_limits<std::int16_t>::min() ||
          *v > std::numeric_limits<std::int16_t>::max()) {
        return false;
      }
      put32(out, 2);
      put16(out, static_cast<std::uint16_t>(*v));
      return true;
    case 4:
      if (*v < std::numeric_limits<std::int32_t>::min() ||
          *v > std::numeric_limits<std::int32_t>::max()) {
        return false;
      }
      put32(out, 4);
      put32(out, static_cast<std::uint32_t>(*v));
      return true;
    default:
      put32(out, 8);
      put64(out, static_cast<std::uint64_t>(*v));
      return true;
  }
}

bool put_float(std::string& out, const Value& value, bool single) {
  double d = 0;
  if (const auto* v = std::get_if<double>(&value)) {
    d = *v;
  } else if (const auto* i = std::get_if<std::int64_t>(&value);
             i != nullptr && std::abs(*i) <= (std::int64_t{1} << 53)) {
    d = static_cast<double>(*i);
  } else {
    return false;
  }
  if (single) {
    const auto f = static_cast<float>(d);
    if (std::isinf(f) && !std::isinf(d)) {
      return false;  // out of range for real: the server's error, from the text form
    }
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    put32(out, 4);
    put32(out, bits);
  } else {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    put32(out, 8);
    put64(out, bits);
  }
  return true;
}

bool put_value(std::string& out, const TargetType& type, const Value& value) {
  if (std::holds_alternative<std::monostate>(value)) {
    put32(out, 0xFFFFFFFF);  // NULL
    return true;
  }
  const auto* text = std::get_if<std::string>(&value);
  if (type.is_enum) {
    if (text == nullptr) {
      return false;
    }
    put_bytes(out, *text);
    return true;
  }
  switch (type.oid) {
    case type_oid::kBool: {
      const auto* b = std::get_if<bool>(&value);
      if (b == nullptr) {
        return false;
      }
      put32(out, 1);
      out += static_cast<char>(*b ? 1 : 0);
      return true;
    }
    case type_oid::kInt2:
      return put_integer(out, value, 2);
    case type_oid::kInt4:
      return put_integer(out, value, 4);
    case type_oid::kInt8:
      return put_integer(out, value, 8);
    case type_oid::kFloat4:
      return put_float(out, value, true);
    case type_oid::kFloat8:
      return put_float(out, value, false);
    case type_oid::kNumeric:
      if (const auto* i = std::get_if<std::int64_t>(&value)) {
        char buffer[24];
        const auto end = std::to_chars(buffer, buffer + sizeof buffer, *i).ptr;
        return put_numeric(out, std::string_view(buffer, static_cast<std::size_t>(end - buffer)));
      }
      return text != nullptr && put_numeric(out, *text);
    case type_oid::kText:
    case type_oid::kVarchar:
    case type_oid::kBpchar:
    case type_oid::kJson:
      if (text == nullptr) {
        return false;
      }
      put_bytes(out, *text);
      return true;
    case type_oid::kJsonb:
      if (text == nullptr) {
        return false;
      }
      put32(out, static_cast<std::uint32_t>(text->size() + 1));
      out += '\1';  // jsonb's binary version: the text follows
      out += *text;
      return true;
    case type_oid::kBytea: {
      const auto* bytes = std::get_if<Bytes>(&value);
      if (bytes == nullptr) {
        return false;
      }
      put_bytes(out, bytes->data);
      return true;
    }
    case type_oid::kUuid:
      return text != nullptr && put_uuid(out, *text);
    case type_oid::kDate: {
      if (text == nullptr) {
        return false;
      }
      std::int64_t days = 0;
      std::size_t at = 0;
      if (*text == "infinity" || *text == "-infinity") {
        days = *text == "infinity" ? std::numeric_limits<std::int32_t>::max()
                                   : std::numeric_limits<std::int32_t>::min();
      } else if (!parse_date(*text, at, days) || at != text->size()) {
        return false;
      }
      put32(out, 4);
      put32(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(days)));
      return true;
    }
    case type_oid::kTime: {
      std::int64_t micros = 0;
      std::size_t at = 0;
      if (text == nullptr || !parse_time(*text, at, true, micros) || at != text->size()) {
        return false;
      }
      put32(out, 8);
      put64(out, static_cast<std::uint64_t>(micros));
      return true;
    }
    case type_oid::kTimestamp:
    case type_oid::kTimestampTz: {
      if (text == nullptr) {
        return false;
      }
      std::int64_t micros = 0;
      if (*text == "infinity" || *text == "-infinity") {
        micros = *text == "infinity" ? std::numeric_limits<std::int64_t>::max()
                                     : std::numeric_limits<std::int64_t>::min();
      } else if (!parse_timestamp(*text, type.oid == type_oid::kTimestampTz, micros)) {
        return false;
      }
      put32(out, 8);
      put64(out, static_cast<std::uint64_t>(micros));
      return true;
    }
    default:
      return false;
  }
}

// The types both ways (the encoder adds enums, the decoder oid).
bool has_binary_form(Oid type) {
  switch (type) {
    case type_oid::kBool:
    case type_oid::kInt2:
    case type_oid::kInt4:
    case type_oid::kInt8:
    case type_oid::kFloat4:
    case type_oid::kFloat8:
    case type_oid::kNumeric:
    case type_oid::kText:
    case type_oid::kVarchar:
    case type_oid::kBpchar:
    case type_oid::kJson:
    case type_oid::kJsonb:
    case type_oid::kBytea:
    case type_oid::kUuid:
    case type_oid::kDate:
    case type_oid::kTime:
    case type_oid::kTimestamp:
    case type_oid::kTimestampTz:
      return true;
    default:
      return false;
  }
}

bool has_encoder(const TargetType& type) {
  return has_binary_form(type.oid) || type.is_enum;
}

}  // namespace

std::optional<BinaryRowEncoder> BinaryRowEncoder::make(const std::vector<TargetType>& columns) {
  if (columns.empty() || columns.size() > 0x7FFF ||
      !std::all_of(columns.begin(), columns.end(), has_encoder)) {
    return std::nullopt;
  }
  return BinaryRowEncoder(columns);
}

void BinaryRowEncoder::append_header(std::string& out) {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // and the array's '\0'
  out.append(kSignature, sizeof kSignature);
  put32(out, 0);  // flags: no OIDs
  put32(out, 0);  // header extension length
}

void BinaryRowEncoder::append_trailer(std::string& out) {
  put16(out, 0xFFFF);
}

bool BinaryRowEncoder::append(const std::vector<const Value*>& values, std::string& out) const {
  if (values.size() != columns_.size()) {
    return false;
  }
  const std::size_t start = out.size();
  put16(out, static_cast<std::uint16_t>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!put_value(out, columns_[i], *values[i])) {
      out.resize(start);
      return false;
    }
  }
  return true;
}

// ---- the way in ----

namespace {

// Big-endian reads over one message; every read checks the bounds.
struct Reader {
  std::string_view data;
  std::size_t pos = 0;
  bool ok = true;

  bool done() const { return pos >= data.size(); }
  std::string_view take(std::size_t n) {
    if (!ok || data.size() - pos < n) {
      ok = false;
      return {};
    }
    std::string_view out = data.substr(pos, n);
    pos += n;
    return out;
  }
  std::uint64_t unsigned_of(std::size_t n) {
    std::uint64_t v = 0;
    for (char c : take(n)) {
      v = (v << 8) | static_cast<unsigned char>(c);
    }
    return v;
  }
  std::int16_t i16() { return static_cast<std::int16_t>(unsigned_of(2)); }
  std::int32_t i32() { return static_cast<std::int32_t>(unsigned_of(4)); }
  std::int64_t i64() { return static_cast<std::int64_t>(unsigned_of(8)); }
};

// numeric's sign field.
constexpr std::uint16_t kNumericNegative = 0x4000;
constexpr std::uint16_t kNumericNaN = 0xC000;
constexpr std::uint16_t kNumericInfinity = 0xD000;
constexpr std::uint16_t kNumericMinusInfinity = 0xF000;

// numeric_send's form as numeric_out prints it: the whole part without
// leading zeros ("0" when there is none), then exactly dscale digits after
// the point.
std::optional<std::string> numeric_text(std::string_view bytes) {
  Reader in{bytes};
  const std::int16_t ndigits = in.i16();
  const std::int16_t weight = in.i16();
  const auto sign = static_cast<std::uint16_t>(in.i16());
  const std::int16_t dscale = in.i16();
  if (!in.ok || ndigits < 0 || dscale < 0 || bytes.size() != 8 + 2 * std::size_t(ndigits)) {
    return std::nullopt;
  }
  switch (sign) {
    case kNumericNaN:
      return "NaN";
    case kNumericInfinity:
      return "Infinity";
    case kNumericMinusInfinity:
      return "-Infinity";
    case 0:
    case kNumericNegative:
      break;
    default:
      return std::nullopt;
  }
  std::vector<int> digits(static_cast<std::size_t>(ndigits));
  for (int& digit : digits) {
    digit = in.i16();
    if (digit < 0 || digit > 9999) {
      return std::nullopt;
    }
  }
  auto digit_at = [&](int i) { return i >= 0 && i < ndigits ? digits[std::size_t(i)] : 0; };
  std::string out;
  if (sign == kNumericNegative) {
    out += '-';
  }
  if (weight < 0) {
    out += '0';
  }
  for (int d = 0; d <= weight; ++d) {
    const std::string group = fmt::format("{:04}", digit_at(d));
    // The first group without its leading zeros (at least one digit).
    out += d > 0 ? group : group.substr(std::min(group.find_first_not_of('0'), std::size_t{3}));
  }
  if (dscale > 0) {
    out += '.';
    std::string fraction;
    for (int d = weight + 1; fraction.size() < std::size_t(dscale); ++d) {
      fraction += fmt::format("{:04}", digit_at(d));
    }
    fraction.resize(std::size_t(dscale));
    out += fraction;
  }
  return out;
}

std::string uuid_text(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    const auto byte = static_cast<unsigned char>(bytes[i]);
    out += kHex[byte >> 4];
    out += kHex[byte & 0xf];
  }
  return out;
}

// A float4 as text_to_value reads its text output: the shortest decimal that
// gives the float back, read as a double (not the float widened).
double float4_value(float value) {
  if (std::isnan(value)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (std::isinf(value)) {
    return value > 0 ? std::numeric_limits<double>::infinity()
                     : -std::numeric_limits<double>::infinity();
  }
  char text[32];
  const auto printed = std::to_chars(text, text + sizeof text, value);
  double out = 0;
  std::from_chars(text, printed.ptr, out);
  return out;
}

bool decodable(Oid type) {
  return has_binary_form(type) || type == type_oid::kOid;
}

// The value of one field; nullopt when the bytes cannot be one of `type`.
std::optional<Value> decode(Oid type, std::string_view bytes) {
  Reader in{bytes};
  auto exactly = [&](std::size_t n) { return bytes.size() == n; };
  switch (type) {
    case type_oid::kBool:
      return exactly(1) ? std::optional<Value>(bytes[0] != 0) : std::nullopt;
    case type_oid::kInt2:
      return exactly(2) ? std::optional<Value>(std::int64_t{in.i16()}) : std::nullopt;
    case type_oid::kInt4:
      return exactly(4) ? std::optional<Value>(std::int64_t{in.i32()}) : std::nullopt;
    case type_oid::kInt8:
      return exactly(8) ? std::optional<Value>(in.i64()) : std::nullopt;
    case type_oid::kOid:
      return exactly(4) ? std::optional<Value>(static_cast<std::int64_t>(in.unsigned_of(4)))
                        : std::nullopt;
    case type_oid::kFloat4:
      return exactly(4) ? std::optional<Value>(float4_value(
                              std::bit_cast<float>(static_cast<std::uint32_t>(in.unsigned_of(4)))))
                        : std::nullopt;
    case type_oid::kFloat8: {
      if (!exactly(8)) {
        return std::nullopt;
      }
      const auto value = std::bit_cast<double>(in.unsigned_of(8));
      return std::isnan(value) ? std::numeric_limits<double>::quiet_NaN() : value;
    }
    case type_oid::kNumeric: {
      std::optional<std::string> text = numeric_text(bytes);
      return text ? std::optional<Value>(std::move(*text)) : std::nullopt;
    }
    case type_oid::kJsonb:
      // A version byte (1), then the text jsonb_out prints.
      return !bytes.empty() && bytes[0] == 1 ? std::optional<Value>(std::string(bytes.substr(1)))
                                             : std::nullopt;
    case type_oid::kBytea:
      return Value(Bytes{std::string(bytes)});
    case type_oid::kUuid:
      return exactly(16) ? std::optional<Value>(uuid_text(bytes)) : std::nullopt;
    case type_oid::kDate:
      return exactly(4) ? std::optional<Value>(binary_date_to_iso(in.i32())) : std::nullopt;
    case type_oid::kTime: {
      const std::int64_t micros = exactly(8) ? in.i64() : -1;
      return micros >= 0 && micros <= kMicrosPerDay
                 ? std::optional<Value>(binary_time_to_text(micros))
                 : std::nullopt;
    }
    case type_oid::kTimestamp:
    case type_oid::kTimestampTz:
      return exactly(8) ? std::optional<Value>(
                              binary_timestamp_to_iso(in.i64(), type == type_oid::kTimestampTz))
                        : std::nullopt;
    default:  // text, varchar, bpchar, json: the text itself
      return Value(std::string(bytes));
  }
}

}  // namespace

std::optional<BinaryRowDecoder> BinaryRowDecoder::make(std::vector<Oid> types) {
  if (types.empty() || !std::all_of(types.begin(), types.end(), decodable)) {
    return std::nullopt;
  }
  return BinaryRowDecoder(std::move(types));
}

Status BinaryRowDecoder::read(std::string_view message,
                              const std::function<Status(std::vector<Value>&)>& row) {
  Reader in{message};
  auto malformed = [](std::string_view what) {
    return make_error(ErrorCode::kPermanent, "binary COPY from the source: {}", what);
  };
  if (!header_read_) {
    static constexpr std::string_view kSignature("PGCOPY\n\377\r\n\0", 11);
    if (in.take(kSignature.size()) != kSignature) {
      return malformed("no PGCOPY signature");
    }
    in.i32();  // flags: none that change the rows (OIDs are gone since PostgreSQL 12)
    const std::int32_t extension = in.i32();
    in.take(static_cast<std::size_t>(std::max(extension, 0)));
    if (!in.ok || extension < 0) {
      return malformed("a short header");
    }
    header_read_ = true;
  }
  while (!in.done()) {
    const std::int16_t fields = in.i16();
    if (ended_ || !in.ok) {
      return malformed(ended_ ? "data after the trailer" : "a short row");
    }
    if (fields == -1) {
      ended_ = true;
      continue;
    }
    if (fields != static_cast<std::int16_t>(types_.size())) {
      return malformed(fmt::format("a row of {} fields, expected {}", fields, types_.size()));
    }
    for (std::size_t c = 0; c < types_.size(); ++c) {
      const std::int32_t length = in.i32();
      if (length == -1) {
        values_[c] = Value();
        continue;
      }
      const std::string_view bytes = in.take(static_cast<std::size_t>(std::max(length, 0)));
      if (!in.ok || length < 0) {
        return malformed("a short row");
      }
      std::optional<Value> value = decode(types_[c], bytes);
      if (!value) {
        return malformed(
            fmt::format("a value of column {} that type {} cannot have", c + 1, types_[c]));
      }
      values_[c] = std::move(*value);
    }
    if (Status s = row(values_); !s) {
      return s;
    }
  }
  return ok();
}

}  // namespace megasync::connectors::postgres
