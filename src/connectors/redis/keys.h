// Pure pieces of the redis connector, no I/O: key globs (Redis's own pattern
// syntax), the key filter of an endpoint, collection names ("db<N>"), the
// source's positions, keyspace notification channels, and the hashes that
// cut keys into verification leaves.
//
// Thread-safety: values and free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/change.h"

namespace megasync::connectors::redis {

// Redis's glob (as KEYS, SCAN MATCH and PSUBSCRIBE): `*`, `?`, `[abc]`,
// `[^a]`, `[a-z]`, and `\` escaping the next character. Byte-wise.
bool glob_match(std::string_view pattern, std::string_view text);

// Which keys an endpoint syncs: those matching any `include` glob (all when
// none is given) and no `exclude` glob.
struct KeyFilter {
  std::vector<std::string> include;
  std::vector<std::string> exclude;

  bool matches(std::string_view key) const;
  // The pattern SCAN can filter on at the server (one include glob), else "*".
  std::string scan_pattern() const;
};

// A database index as a collection name and back: 3 <-> "db3". nullopt when
// the name is not of that form (or the index is out of 0..65535).
std::string collection_of(int db);
std::optional<int> db_of(std::string_view collection);

// The source's positions: "<epoch>-<seq>", both zero-padded so that text
// order is their order. The epoch is the wall-clock millisecond at which a
// source session opened (later sessions have later epochs), the sequence
// counts the batches that session emitted. Keyspace notifications are not a
// durable log: a position says what a session handed over, not where a
// replay could start (see README.md "Positions").
struct SourcePosition {
  std::int64_t epoch_ms = 0;
  std::int64_t seq = 0;
};
Position encode_position(const SourcePosition& position);
std::optional<SourcePosition> decode_position(const Position& position);

// A keyspace notification channel "__keyspace@<db>__:<key>" split into its
// database and key; nullopt for any other channel.
struct KeyspaceEvent {
  int db = 0;
  std::string key;
};
std::optional<KeyspaceEvent> parse_keyspace_channel(std::string_view channel);

// The notify-keyspace-events flags the source needs added to `current`: "K"
// (keyspace channels) and every class of "A" (g$lshzxet) not yet covered.
// Empty when `current` already has them.
std::string missing_notify_flags(std::string_view current);

// Verification: the leaf of a key among 2^leaf_bits (top bits of a 64-bit
// hash of its bytes), and the hash of one key's state (its value digest and
// absolute expiry; -1: none).
std::uint32_t leaf_of_key(std::string_view key, int leaf_bits);
std::uint64_t key_state_hash(std::string_view key, std::string_view digest,
                             std::int64_t expire_at_ms);

}  // namespace megasync::connectors::redis
