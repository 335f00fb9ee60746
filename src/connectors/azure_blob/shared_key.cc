#include "connectors/azure_blob/shared_key.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "connectors/http/encode.h"

namespace megasync::connectors::azure_blob {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::string header_value(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (lower(key) == name) {
      return std::string(trim(value));
    }
  }
  return {};
}

}  // namespace

std::string string_to_sign(std::string_view account, std::string_view method,
                           std::string_view encoded_path, const QueryList& query,
                           const HeaderList& headers, std::uint64_t content_length) {
  std::string out(method);
  out += '\n';
  out += header_value(headers, "content-encoding") + '\n';
  out += header_value(headers, "content-language") + '\n';
  out += (content_length == 0 ? std::string() : std::to_string(content_length)) + '\n';
  out += header_value(headers, "content-md5") + '\n';
  out += header_value(headers, "content-type") + '\n';
  out += header_value(headers, "date") + '\n';
  out += header_value(headers, "if-modified-since") + '\n';
  out += header_value(headers, "if-match") + '\n';
  out += header_value(headers, "if-none-match") + '\n';
  out += header_value(headers, "if-unmodified-since") + '\n';
  out += header_value(headers, "range") + '\n';

  std::vector<std::pair<std::string, std::string>> ms;
  for (const auto& [name, value] : headers) {
    std::string key = lower(trim(name));
    if (key.starts_with("x-ms-")) {
      ms.emplace_back(std::move(key), std::string(trim(value)));
    }
  }
  std::sort(ms.begin(), ms.end());
  for (const auto& [name, value] : ms) {
    out += name + ":" + value + "\n";
  }

  out += "/";
  out += account;
  out += encoded_path.empty() ? std::string_view("/") : encoded_path;
  std::map<std::string, std::vector<std::string>> params;
  for (const auto& [name, value] : query) {
    params[lower(name)].push_back(value);
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (std::size_t i = 0; i < values.size(); ++i) {
      out += (i == 0 ? "" : ",") + values[i];
    }
  }
  return out;
}

Result<std::string> decode_key(std::string_view base64_key) {
  const std::string_view text = trim(base64_key);
  if (text.empty() || text.size() % 4 != 0) {
    return make_error(ErrorCode::kInvalidConfig, "the key is not base64 ({} characters)",
                      text.size());
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) {
    return make_error(ErrorCode::kInvalidConfig, "the key is not base64");
  }
  // EVP_DecodeBlock counts padding as zero bytes.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) {
    --size;
  }
  out.resize(size);
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string authorization(std::string_view account, std::string_view raw_key,
                          std::string_view string_to_sign) {
  return fmt::format("SharedKey {}:{}", account,
                     http::base64(hmac_sha256(raw_key, string_to_sign)));
}

std::string http_date(WallTime t) {
  const std::time_t seconds = WallClock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  // Not strftime's %a/%b: they follow the locale.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string format_mtime(WallTime t) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::int64_t seconds = ns / 1'000'000'000;
  std::int64_t fraction = ns % 1'000'000'000;
  if (fraction < 0) {
    fraction += 1'000'000'000;
    --seconds;
  }
  const std::time_t whole = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&whole, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
}

Result<WallTime> parse_mtime(std::string_view text) {
  auto bad = [&] { return make_error(ErrorCode::kPermanent, "unreadable time '{}'", text); };
  std::tm tm{};
  const std::string copy(trim(text));
  const char* rest = ::strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return bad();
  }
  std::int64_t nanos = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    for (; *rest >= '0' && *rest <= '9'; ++rest) {
      if (digits < 9) {
        nanos = nanos * 10 + (*rest - '0');
        ++digits;
      }
    }
    for (; digits < 9; ++digits) {
      nanos *= 10;
    }
  }
  std::int64_t offset = 0;  // seconds east of UTC
  if (*rest == '+' || *rest == '-') {
    const int sign = *rest == '+' ? 1 : -1;
    int hours = 0;
    int minutes = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hours, &minutes) != 2) {
      return bad();
    }
    offset = sign * (hours * 3600 + minutes * 60);
    rest += 6;
  } else if (*rest == 'Z') {
    ++rest;
  } else {
    return bad();
  }
  if (*rest != '\0') {
    return bad();
  }
  const auto seconds = static_cast<std::int64_t>(::timegm(&tm)) - offset;
  return WallTime(std::chrono::duration_cast<WallClock::duration>(std::chrono::seconds(seconds) +
                                                                  std::chrono::nanoseconds(nanos)));
}

std::string block_id(std::size_t number) {
  return http::base64(fmt::format("megasync-block-{:06}", number));
}

std::map<std::string, std::string> metadata_elements(std::string_view xml) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string_view::npos) {
    const std::size_t gt = xml.find('>', pos);
    if (gt == std::string_view::npos) {
      break;
    }
    std::string_view tag = xml.substr(pos + 1, gt - pos - 1);
    if (tag.empty() || tag.front() == '/' || tag.front() == '?' || tag.front() == '!') {
      pos = gt + 1;
      continue;
    }
    if (tag.back() == '/') {  // <name/>: an empty value
      tag.remove_suffix(1);
      out[lower(trim(tag))] = "";
      pos = gt + 1;
      continue;
    }
    const std::string name(trim(tag.substr(0, tag.find(' '))));
    const std::string close = "</" + name + ">";
    const std::size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) {
      break;
    }
    out[lower(name)] = http::xml_unescape(xml.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}

}  // namespace megasync::connectors::azure_blob
