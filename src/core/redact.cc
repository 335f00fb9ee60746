#include "core/redact.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>

namespace megasync {
namespace {

struct Secrets {
  std::mutex mutex;
  // Longest first, so that a secret containing another is replaced whole.
  std::set<std::string, bool (*)(const std::string&, const std::string&)> values{
      [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() > b.size() : a < b;
      }};
};

Secrets& secrets() {
  static Secrets instance;
  return instance;
}

// scheme://user:password@host -> scheme://user:***@host, for every URL in `text`.
void mask_url_passwords(std::string& text) {
  std::size_t pos = 0;
  while ((pos = text.find("://", pos)) != std::string::npos) {
    const std::size_t start = pos + 3;
    std::size_t end = start;
    while (end < text.size() && text[end] != '/' && text[end] != '@' &&
           !std::isspace(static_cast<unsigned char>(text[end]))) {
      ++end;
    }
    pos = start;
    if (end >= text.size() || text[end] != '@') {
      continue;
    }
    const std::size_t colon = text.find(':', start);
    if (colon == std::string::npos || colon >= end || colon + 1 == end) {
      continue;
    }
    text.replace(colon + 1, end - colon - 1, "***");
    pos = colon + 4;
  }
}

}  // namespace

void register_secret(std::string_view value) {
  if (value.size() < 3) {
    return;
  }
  Secrets& s = secrets();
  std::lock_guard lock(s.mutex);
  s.values.emplace(value);
}

std::string redact(std::string_view text) {
  std::string out(text);
  {
    Secrets& s = secrets();
    std::lock_guard lock(s.mutex);
    for (const std::string& secret : s.values) {
      std::size_t pos = 0;
      while ((pos = out.find(secret, pos)) != std::string::npos) {
        out.replace(pos, secret.size(), "***");
        pos += 3;
      }
    }
  }
  mask_url_passwords(out);
  return out;
}

nlohmann::json redact_json(const nlohmann::json& doc) {
  // Redacting value by value, rather than the dumped text, also catches a
  // secret that JSON escaping would have altered (one containing `"` or `\\`)
  // and cannot break the document's syntax.
  if (doc.is_string()) {
    return redact(doc.get_ref<const std::string&>());
  }
  if (doc.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : doc) {
      out.push_back(redact_json(item));
    }
    return out;
  }
  if (doc.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : doc.items()) {
      out[redact(key)] = redact_json(value);
    }
    return out;
  }
  return doc;
}

bool is_secret_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* const kWords[] = {"password",   "passwd",  "secret", "token",
                                       "credential", "private", "apikey"};
  for (const char* word : kWords) {
    if (lower.find(word) != std::string::npos) {
      return true;
    }
  }
  // "key" as a whole word part: api_key, access_key, key, SECRET_KEY; not "keyspace", "keep".
  std::size_t pos = 0;
  while ((pos = lower.find("key", pos)) != std::string::npos) {
    const bool start_ok = pos == 0 || !std::isalpha(static_cast<unsigned char>(lower[pos - 1]));
    const std::size_t end = pos + 3;
    const bool end_ok =
        end == lower.size() || !std::isalpha(static_cast<unsigned char>(lower[end]));
    if (start_ok && end_ok) {
      return true;
    }
    pos = end;
  }
  return lower == "auth" || lower.ends_with("_auth");
}

void clear_secrets_for_testing() {
  Secrets& s = secrets();
  std::lock_guard lock(s.mutex);
  s.values.clear();
}

}  // namespace megasync
