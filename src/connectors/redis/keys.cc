#include "connectors/redis/keys.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <charconv>
#include <utility>

namespace megasync::connectors::redis {
namespace {

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

// One character class "[...]" starting at pattern[p] == '['; sets `p` past it.
bool class_matches(std::string_view pattern, std::size_t& p, char c) {
  ++p;  // '['
  bool negate = false;
  if (p < pattern.size() && pattern[p] == '^') {
    negate = true;
    ++p;
  }
  bool matched = false;
  while (p < pattern.size() && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      ++p;
      matched = matched || pattern[p] == c;
      ++p;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
      char low = pattern[p];
      char high = pattern[p + 2];
      if (low > high) {
        std::swap(low, high);
      }
      matched = matched || (c >= low && c <= high);
      p += 3;
    } else {
      matched = matched || pattern[p] == c;
      ++p;
    }
  }
  if (p < pattern.size()) {
    ++p;  // ']'
  }
  return negate ? !matched : matched;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point for the last '*'.
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star_p = std::string_view::npos;
  std::size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') {
          ++p;
        }
        star_p = p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        std::size_t next = p;
        if (class_matches(pattern, next, text[t])) {
          p = next;
          ++t;
          continue;
        }
      } else if (pc == '\\' && p + 1 < pattern.size()) {
        if (pattern[p + 1] == text[t]) {
          p += 2;
          ++t;
          continue;
        }
      } else if (pc == text[t]) {
        ++p;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) {
      return false;
    }
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

bool KeyFilter::matches(std::string_view key) const {
  bool included = include.empty();
  for (const std::string& pattern : include) {
    if (glob_match(pattern, key)) {
      included = true;
      break;
    }
  }
  if (!included) {
    return false;
  }
  for (const std::string& pattern : exclude) {
    if (glob_match(pattern, key)) {
      return false;
    }
  }
  return true;
}

std::string KeyFilter::scan_pattern() const {
  return include.size() == 1 ? include.front() : "*";
}

std::string collection_of(int db) {
  return fmt::format("db{}", db);
}

std::optional<int> db_of(std::string_view collection) {
  if (!collection.starts_with("db")) {
    return std::nullopt;
  }
  std::optional<std::int64_t> n = parse_int(collection.substr(2));
  if (!n || *n > 65535 || (collection.size() > 3 && collection[2] == '0')) {
    return std::nullopt;
  }
  return static_cast<int>(*n);
}

Position encode_position(const SourcePosition& position) {
  return fmt::format("{:016}-{:012}", position.epoch_ms, position.seq);
}

std::optional<SourcePosition> decode_position(const Position& position) {
  const std::size_t dash = position.find('-');
  if (dash != 16 || position.size() != 16 + 1 + 12) {
    return std::nullopt;
  }
  std::optional<std::int64_t> epoch = parse_int(std::string_view(position).substr(0, dash));
  std::optional<std::int64_t> seq = parse_int(std::string_view(position).substr(dash + 1));
  if (!epoch || !seq) {
    return std::nullopt;
  }
  return SourcePosition{.epoch_ms = *epoch, .seq = *seq};
}

std::optional<KeyspaceEvent> parse_keyspace_channel(std::string_view channel) {
  constexpr std::string_view kPrefix = "__keyspace@";
  if (!channel.starts_with(kPrefix)) {
    return std::nullopt;
  }
  channel.remove_prefix(kPrefix.size());
  const std::size_t end = channel.find("__:");
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  std::optional<std::int64_t> db = parse_int(channel.substr(0, end));
  if (!db || *db > 65535) {
    return std::nullopt;
  }
  return KeyspaceEvent{.db = static_cast<int>(*db), .key = std::string(channel.substr(end + 3))};
}

std::string missing_notify_flags(std::string_view current) {
  std::string missing;
  if (current.find('K') == std::string_view::npos) {
    missing += 'K';
  }
  if (current.find('A') != std::string_view::npos) {
    return missing;
  }
  for (char flag : std::string_view("g$lshzxet")) {
    if (current.find(flag) == std::string_view::npos) {
      missing += flag;
    }
  }
  return missing;
}

std::uint32_t leaf_of_key(std::string_view key, int leaf_bits) {
  const std::uint64_t hash = XXH64(key.data(), key.size(), 0);
  return leaf_bits <= 0 ? 0 : static_cast<std::uint32_t>(hash >> (64 - leaf_bits));
}

std::uint64_t key_state_hash(std::string_view key, std::string_view digest,
                             std::int64_t expire_at_ms) {
  XXH64_state_t* state = XXH64_createState();
  XXH64_reset(state, 1);
  const std::uint64_t sizes[2] = {key.size(), digest.size()};
  XXH64_update(state, sizes, sizeof sizes);
  XXH64_update(state, key.data(), key.size());
  XXH64_update(state, digest.data(), digest.size());
  XXH64_update(state, &expire_at_ms, sizeof expire_at_ms);
  const std::uint64_t hash = XXH64_digest(state);
  XXH64_freeState(state);
  return hash;
}

}  // namespace megasync::connectors::redis
