// The settings of a `redis_streams` endpoint (factory.cc fills them).
//
// Thread-safety: a value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "connectors/redis/service.h"

namespace megasync::connectors::redis_streams {

struct StreamsOptions {
  // Connection settings (host, port, user, password, db, name); the
  // connection code is the redis connector's (connectors/redis/service.h).
  redis::RedisOptions server;

  // Source.
  std::vector<std::string> streams;  // names or Redis globs ("orders:*")
  std::string group;                 // empty: "megasync-<job>"
  std::string consumer = "megasync";
  bool start_latest = false;  // XGROUP CREATE at `$` rather than 0
  std::string id_field;       // empty: "<stream>:<entry id>"
  std::string payload_field = "payload";
  std::string key_field = "key";

  // Target.
  std::string stream_template = "{topic}";
  std::optional<std::int64_t> maxlen;  // XADD MAXLEN ~ N
};

}  // namespace megasync::connectors::redis_streams
