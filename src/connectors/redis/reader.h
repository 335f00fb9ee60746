// The redis record reader, for verification: the keys of a database (SCAN
// with the endpoint's key filter), each with its value digest and absolute
// expiry, and its DUMP payload when rows are read (for a repair).
//
// The value digest is DEBUG DIGEST-VALUE where the server allows DEBUG
// (enable-debug-command), independent of how the value is encoded; else a
// hash of the DUMP payload (the digest scheme says which, so two servers are
// compared server-side only when they use the same). Digests are computed per
// key by the server, pipelined; megasync sums them into leaves, so a
// verification of equal databases pulls no payloads.
//
// Redis has no read snapshot: a database written during the read may show a
// key in one state in the digest and another when rows are read (the
// comparison after runs confirms a difference with one more pass).
//
// Created by RedisEndpoint::open_record_reader; used by one thread only.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "connectors/redis/service.h"
#include "core/record_reader.h"

namespace megasync::connectors::redis {

class RedisReader : public RecordReader {
 public:
  // `target`: collections map to databases as the sink writes them; else as
  // a source names them ("db<N>").
  RedisReader(RedisOptions options, bool target) : options_(std::move(options)), target_(target) {}

  Status begin() override;
  Status scan(const CollectionSchema& schema, const Visit& visit) override;
  void end() override {}

  Result<std::optional<std::string>> digest_scheme(const CollectionSchema& schema) override;
  Result<std::vector<LeafDigest>> server_digest(const CollectionSchema& schema,
                                                int leaf_bits) override;
  Status scan_leaves(const CollectionSchema& schema, int leaf_bits,
                     const std::vector<std::uint32_t>& leaves, const Visit& visit) override;

 private:
  struct KeyState {
    std::string key;
    std::string digest;
    std::int64_t expire_at = -1;  // -1: none
    std::optional<std::string> payload;
  };
  Result<int> database(const CollectionSchema& schema) const;
  // Calls `each` for every key of the collection's database that passes the
  // filter and `wanted`, with its state (payload when `payloads`).
  Status walk(const CollectionSchema& schema, bool payloads,
              const std::function<bool(const std::string&)>& wanted,
              const std::function<Status(KeyState&)>& each);
  Status ensure_connected();

  RedisOptions options_;
  bool target_;
  std::unique_ptr<Connection> db_;
  std::optional<bool> debug_allowed_;
};

}  // namespace megasync::connectors::redis
