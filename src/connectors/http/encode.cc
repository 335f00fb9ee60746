#include "connectors/http/encode.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace megasync::connectors::http {
namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string uri_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::string canonical_query(std::vector<std::pair<std::string, std::string>> params) {
  for (auto& [name, value] : params) {
    name = uri_encode(name, false);
    value = uri_encode(value, false);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) {
      out += '&';
    }
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    const auto semi = text.find(';', i);
    if (semi == std::string_view::npos) {
      out += text.substr(i);
      break;
    }
    const std::string_view entity = text.substr(i + 1, semi - i - 1);
    if (entity == "amp")
      out += '&';
    else if (entity == "lt")
      out += '<';
    else if (entity == "gt")
      out += '>';
    else if (entity == "quot")
      out += '"';
    else if (entity == "apos")
      out += '\'';
    else if (entity.size() > 1 && entity[0] == '#') {
      std::uint32_t cp = 0;
      const bool is_hex = entity[1] == 'x' || entity[1] == 'X';
      const std::string_view digits = entity.substr(is_hex ? 2 : 1);
      auto [end, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, is_hex ? 16 : 10);
      if (ec != std::errc() || end != digits.data() + digits.size()) {
        out += text.substr(i, semi - i + 1);
      } else {
        append_utf8(out, cp);
      }
    } else {
      out += text.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

std::vector<std::string_view> xml_elements(std::string_view doc, std::string_view tag) {
  std::vector<std::string_view> found;
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  std::size_t pos = 0;
  while ((pos = doc.find(open, pos)) != std::string_view::npos) {
    const std::size_t after = pos + open.size();
    if (after >= doc.size()) {
      break;
    }
    const char next = doc[after];
    if (next != '>' && next != ' ' && next != '/' && next != '\t' && next != '\n') {
      pos = after;  // a longer tag name with this prefix
      continue;
    }
    const std::size_t gt = doc.find('>', after);
    if (gt == std::string_view::npos) {
      break;
    }
    if (doc[gt - 1] == '/') {
      found.emplace_back();
      pos = gt + 1;
      continue;
    }
    const std::size_t end = doc.find(close, gt + 1);
    if (end == std::string_view::npos) {
      break;
    }
    found.push_back(doc.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return found;
}

std::string xml_text(std::string_view doc, std::string_view tag) {
  auto elements = xml_elements(doc, tag);
  return elements.empty() ? std::string() : xml_unescape(elements.front());
}

Result<WallTime> parse_iso8601(std::string_view text) {
  std::tm tm{};
  const std::string copy(text);
  const char* rest = ::strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return make_error(ErrorCode::kPermanent, "unreadable time '{}'", text);
  }
  long millis = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 3) {
        millis = millis * 10 + (*rest - '0');
        ++digits;
      }
      ++rest;
    }
    for (; digits < 3; ++digits)
      millis *= 10;
  }
  if (*rest != 'Z' && *rest != '\0') {
    return make_error(ErrorCode::kPermanent, "unreadable time '{}'", text);
  }
  return WallClock::from_time_t(::timegm(&tm)) + std::chrono::milliseconds(millis);
}

Result<WallTime> parse_http_date(std::string_view text) {
  std::tm tm{};
  const std::string copy(text);
  const char* rest = ::strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0') {
    return make_error(ErrorCode::kPermanent, "unreadable time '{}'", text);
  }
  return WallClock::from_time_t(::timegm(&tm));
}

std::string format_millis(WallTime t) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

struct Digest::State {
  EVP_MD_CTX* ctx = nullptr;
};

Digest::Digest(Kind kind) : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(state_->ctx, kind == Kind::kMd5 ? EVP_md5() : EVP_sha256(), nullptr);
}

Digest::~Digest() {
  EVP_MD_CTX_free(state_->ctx);
}

void Digest::update(std::string_view bytes) {
  EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size());
}

std::string Digest::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(state_->ctx, out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string sha256_hex(std::string_view bytes) {
  Digest d(Digest::Kind::kSha256);
  d.update(bytes);
  return hex(d.finish());
}

std::string md5_raw(std::string_view bytes) {
  Digest d(Digest::Kind::kMd5);
  d.update(bytes);
  return d.finish();
}

}  // namespace megasync::connectors::http
