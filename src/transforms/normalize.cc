#include "transforms/normalize.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "transforms/fields.h"

namespace megasync::transforms {
namespace {

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::string civil_from_seconds(std::int64_t seconds, const std::string& fraction) {
  std::int64_t days = seconds / 86400;
  std::int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z", y + (m <= 2), m, d, rest / 3600,
                     rest / 60 % 60, rest % 60, fraction);
}

bool digits(const std::string& text, std::size_t at, std::size_t count, int& out) {
  if (at + count > text.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<std::string> to_utc_timestamp(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || text[7] != '-' ||
      !digits(text, 5, 2, month) || !digits(text, 8, 2, day) || month < 1 || month > 12 ||
      day < 1 || day > 31) {
    return std::nullopt;
  }
  std::size_t at = 10;
  std::string fraction;
  if (at < text.size() && (text[at] == 'T' || text[at] == 't' || text[at] == ' ')) {
    if (!digits(text, at + 1, 2, hour) || text.size() < at + 6 || text[at + 3] != ':' ||
        !digits(text, at + 4, 2, minute)) {
      return std::nullopt;
    }
    at += 6;
    if (at < text.size() && text[at] == ':') {
      if (!digits(text, at + 1, 2, second)) {
        return std::nullopt;
      }
      at += 3;
      if (at < text.size() && text[at] == '.') {
        std::size_t end = at + 1;
        while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) {
          ++end;
        }
        fraction = text.substr(at, end - at);
        at = end;
      }
    }
  }
  int offset_seconds = 0;
  if (at < text.size()) {
    const char sign = text[at];
    if ((sign == 'Z' || sign == 'z') && at + 1 == text.size()) {
      at += 1;
    } else if (sign == '+' || sign == '-') {
      int oh = 0, om = 0;
      if (!digits(text, at + 1, 2, oh)) {
        return std::nullopt;
      }
      std::size_t next = at + 3;
      if (next < text.size() && text[next] == ':') {
        ++next;
      }
      if (next < text.size() && !digits(text, next, 2, om)) {
        return std::nullopt;
      }
      if (next < text.size()) {
        next += 2;
      }
      if (next != text.size()) {
        return std::nullopt;
      }
      offset_seconds = (sign == '+' ? 1 : -1) * (oh * 3600 + om * 60);
      at = next;
    } else {
      return std::nullopt;
    }
  }
  if (hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  const std::int64_t seconds =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_seconds;
  return civil_from_seconds(seconds, fraction);
}

Status Normalize::apply_schema(CollectionSchema& schema) const {
  for (const std::string& field : fields_) {
    if (schema.column(field) == nullptr) {
      return make_error(ErrorCode::kInvalidConfig, "normalize: {} has no field {}", schema.name,
                        field);
    }
    if (is_key(schema, field)) {
      return make_error(ErrorCode::kInvalidConfig,
                        "normalize: {} is a key column of {} (two keys could become one)", field,
                        schema.name);
    }
  }
  const bool to_utc = std::find(ops_.begin(), ops_.end(), NormalizeOp::kUtcTimestamp) != ops_.end();
  for (Column& column : schema.columns) {
    if (to_utc && fields_.count(column.name) != 0) {
      column.type = ColumnType::kTimestampTz;
    }
  }
  return ok();
}

Result<bool> Normalize::apply(Change& change, const CollectionSchema& /*schema*/) const {
  for (auto& [name, value] : change.fields) {
    if (fields_.count(name) == 0) {
      continue;
    }
    for (NormalizeOp op : ops_) {
      if (op == NormalizeOp::kUtcTimestamp) {
        if (const auto* epoch = std::get_if<std::int64_t>(&value)) {
          value = civil_from_seconds(*epoch, "");
          continue;
        }
      }
      auto* text = std::get_if<std::string>(&value);
      if (text == nullptr) {
        continue;
      }
      switch (op) {
        case NormalizeOp::kTrim: {
          const auto begin = text->find_first_not_of(" \t\r\n");
          *text = begin == std::string::npos
                      ? std::string()
                      : text->substr(begin, text->find_last_not_of(" \t\r\n") - begin + 1);
          break;
        }
        case NormalizeOp::kLowercase:
          std::transform(text->begin(), text->end(), text->begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          break;
        case NormalizeOp::kUtcTimestamp:
          if (std::optional<std::string> utc = to_utc_timestamp(*text)) {
            *text = std::move(*utc);
          }
          break;
      }
    }
  }
  return true;
}

}  // namespace megasync::transforms
