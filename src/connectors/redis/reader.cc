#include "connectors/redis/reader.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <map>

#include "connectors/redis/sink.h"

namespace megasync::connectors::redis {
namespace {

constexpr std::size_t kPipeline = 500;

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += fmt::format("{:02x}", out[i]);
  }
  return hex;
}

}  // namespace

Status RedisReader::ensure_connected() {
  if (db_ != nullptr) {
    return ok();
  }
  Result<std::unique_ptr<Connection>> db =
      Connection::open(options_, Deadline::after(std::chrono::seconds(30)), 0);
  if (!db) {
    return fail(db.error().with_context(fmt::format("endpoint {}", options_.name)));
  }
  db_ = std::move(*db);
  // DEBUG DIGEST-VALUE of a missing key answers when DEBUG is allowed.
  Result<Reply> probe = db_->command({"DEBUG", "DIGEST-VALUE", "megasync:probe:none"});
  debug_allowed_ = probe.has_value();
  return ok();
}

Status RedisReader::begin() {
  return ensure_connected();
}

Result<int> RedisReader::database(const CollectionSchema& schema) const {
  if (target_) {
    return target_database(options_, schema.name);
  }
  std::optional<int> db = db_of(schema.name);
  if (!db) {
    return make_error(ErrorCode::kInvalidConfig, "endpoint {}: {} is not a database (db<N>)",
                      options_.name, schema.name);
  }
  return *db;
}

Status RedisReader::walk(const CollectionSchema& schema, bool payloads,
                         const std::function<bool(const std::string&)>& wanted,
                         const std::function<Status(KeyState&)>& each) {
  if (Status s = ensure_connected(); !s) {
    return s;
  }
  Result<int> db = database(schema);
  if (!db) {
    return fail(db.error());
  }
  if (Status s = db_->select(*db); !s) {
    return s;
  }
  const bool debug = debug_allowed_.value_or(false);
  std::string cursor = "0";
  std::vector<std::string> keys;
  do {
    Result<Reply> scan =
        db_->command({"SCAN", cursor, "MATCH", options_.keys.scan_pattern(), "COUNT", "1000"});
    if (!scan) {
      return fail(scan.error().with_context(
          fmt::format("endpoint {}: read {}", options_.name, schema.name)));
    }
    const redisReply& reply = **scan;
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2) {
      return make_error(ErrorCode::kPermanent, "endpoint {}: unexpected SCAN reply", options_.name);
    }
    cursor = std::string(reply_text(*reply.element[0]));
    keys.clear();
    for (std::size_t i = 0; i < reply.element[1]->elements; ++i) {
      std::string key(reply_text(*reply.element[1]->element[i]));
      if (options_.keys.matches(key) && wanted(key)) {
        keys.push_back(std::move(key));
      }
    }
    for (std::size_t start = 0; start < keys.size(); start += kPipeline) {
      const std::size_t end = std::min(keys.size(), start + kPipeline);
      for (std::size_t i = start; i < end; ++i) {
        if (debug) {
          db_->append({"DEBUG", "DIGEST-VALUE", keys[i]});
        }
        if (!debug || payloads) {
          db_->append({"DUMP", keys[i]});
        }
        db_->append({"PEXPIRETIME", keys[i]});
      }
      for (std::size_t i = start; i < end; ++i) {
        KeyState state{.key = keys[i]};
        bool gone = false;
        auto take = [&]() -> Result<Reply> {
          Result<Reply> r = db_->read();
          if (r && (*r)->type == REDIS_REPLY_ERROR) {
            return make_error(classify_error(reply_text(**r), false), "endpoint {}: key {:?}: {}",
                              options_.name, keys[i], reply_text(**r));
          }
          return r;
        };
        if (debug) {
          Result<Reply> digest = take();
          if (!digest) {
            return fail(digest.error());
          }
          // DEBUG DIGEST-VALUE answers an array of one digest.
          const redisReply* d = (*digest)->type == REDIS_REPLY_ARRAY && (*digest)->elements > 0
                                    ? (*digest)->element[0]
                                    : digest->get();
          state.digest = "v:" + std::string(reply_text(*d));
        }
        if (!debug || payloads) {
          Result<Reply> dump = take();
          if (!dump) {
            return fail(dump.error());
          }
          if ((*dump)->type == REDIS_REPLY_NIL) {
            gone = true;
          } else {
            std::string payload(reply_text(**dump));
            if (!debug) {
              state.digest = "d:" + sha256_hex(payload);
            }
            if (payloads) {
              state.payload = std::move(payload);
            }
          }
        }
        Result<Reply> expire = take();
        if (!expire) {
          return fail(expire.error());
        }
        if ((*expire)->integer == -2) {
          gone = true;  // deleted or expired during the read
        }
        state.expire_at = (*expire)->integer > 0 ? (*expire)->integer : -1;
        if (!gone) {
          if (Status s = each(state); !s) {
            // Drain the rest of this pipeline so the connection stays usable.
            for (std::size_t rest = i + 1; rest < end; ++rest) {
              for (int n = (debug ? 1 : 0) + ((!debug || payloads) ? 1 : 0) + 1; n > 0; --n) {
                (void)db_->read();
              }
            }
            return s;
          }
        }
      }
    }
  } while (cursor != "0");
  return ok();
}

Status RedisReader::scan(const CollectionSchema& schema, const Visit& visit) {
  return scan_leaves(schema, 0, {}, visit);
}

Result<std::optional<std::string>> RedisReader::digest_scheme(const CollectionSchema& schema) {
  if (Status s = ensure_connected(); !s) {
    return fail(s.error());
  }
  if (Result<int> db = database(schema); !db) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(debug_allowed_.value_or(false) ? "redis-digest-value-1"
                                                                   : "redis-dump-sha256-1");
}

Result<std::vector<RecordReader::LeafDigest>> RedisReader::server_digest(
    const CollectionSchema& schema, int leaf_bits) {
  std::map<std::uint32_t, LeafDigest> leaves;
  Status walked = walk(
      schema, /*payloads=*/false, [](const std::string&) { return true; },
      [&](KeyState& state) -> Status {
        const std::uint32_t leaf = leaf_of_key(state.key, leaf_bits);
        LeafDigest& digest = leaves[leaf];
        digest.leaf = leaf;
        ++digest.rows;
        digest.sum += key_state_hash(state.key, state.digest, state.expire_at);
        return ok();
      });
  if (!walked) {
    return fail(walked.error());
  }
  std::vector<LeafDigest> out;
  out.reserve(leaves.size());
  for (auto& [leaf, digest] : leaves) {
    out.push_back(digest);
  }
  return out;
}

Status RedisReader::scan_leaves(const CollectionSchema& schema, int leaf_bits,
                                const std::vector<std::uint32_t>& leaves, const Visit& visit) {
  const std::set<std::uint32_t> wanted_leaves(leaves.begin(), leaves.end());
  const bool all = leaf_bits == 0;
  std::vector<Value> key;
  Fields fields;
  return walk(
      schema, /*payloads=*/true,
      [&](const std::string& k) {
        return all || wanted_leaves.contains(leaf_of_key(k, leaf_bits));
      },
      [&](KeyState& state) -> Status {
        key = {Value(state.key)};
        fields.clear();
        fields["key"] = Value(state.key);
        fields["digest"] = Value(state.digest);
        fields["expire_at"] = state.expire_at > 0 ? Value(state.expire_at) : Value();
        if (state.payload) {
          // Not a column (not compared): carried for a repair's RESTORE.
          fields["value"] = Value(Bytes{std::move(*state.payload)});
        }
        return visit(key, fields);
      });
}

}  // namespace megasync::connectors::redis
