// The redis record target: each batch as one pipeline of RESTORE key <expire_at>
// <payload> REPLACE ABSTTL (upserts) and DEL (deletes), per database.
//
// A collection "db<N>" goes to database N, or to the endpoint's `db` when set
// (database mapping). A key whose expire_at has passed is deleted by Redis
// itself on RESTORE (and so not resurrected). Checkpoints stay in the state
// store (keeps_checkpoints() is false): applying a batch twice leaves the
// same keys.
//
// Created by RedisEndpoint::open_record_sink; used by the target's thread
// only. Owns its connection.
#pragma once

#include <memory>

#include "connectors/redis/service.h"
#include "core/record_source.h"

namespace megasync::connectors::redis {

// The database a target endpoint writes (or reads back) `collection` to.
Result<int> target_database(const RedisOptions& options, const std::string& collection);

class RedisSink : public RecordSink {
 public:
  explicit RedisSink(std::unique_ptr<Connection> db) : db_(std::move(db)) {}

  // Checks that every collection maps to a database.
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  Status apply(const Batch& batch) override;

 private:
  std::unique_ptr<Connection> db_;
};

}  // namespace megasync::connectors::redis
