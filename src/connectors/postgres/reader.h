// The postgres record reader: the rows of tables, read in one REPEATABLE READ
// READ ONLY transaction (one snapshot across tables) through a cursor, so that
// memory stays bounded, for verification. Sets nothing up in the database.
//
// Server-side digests (digest_sql.h): the database hashes and groups the rows
// itself in one GROUP BY per table, and reads back only the rows of the leaves
// asked for; both run inside a savepoint with fixed session settings, rolled
// back after, so scan() still sees the session as it was.
//
// Created by PostgresEndpoint::open_record_reader; used by one thread only.
// Owns its own connection.
#pragma once

#include <functional>
#include <memory>

#include "connectors/postgres/service.h"
#include "core/record_reader.h"

namespace megasync::connectors::postgres {

class PostgresReader : public RecordReader {
 public:
  explicit PostgresReader(std::unique_ptr<Connection> db) : db_(std::move(db)) {}
  ~PostgresReader() override;

  Status begin() override;
  // A missing table has no rows; columns the table lacks are absent.
  Status scan(const CollectionSchema& schema, const Visit& visit) override;
  void end() override;

  // A scheme when the table exists with every column of the schema (and the
  // server is PostgreSQL 12 or later); nullopt otherwise.
  Result<std::optional<std::string>> digest_scheme(const CollectionSchema& schema) override;
  Result<std::vector<LeafDigest>> server_digest(const CollectionSchema& schema,
                                                int leaf_bits) override;
  Status scan_leaves(const CollectionSchema& schema, int leaf_bits,
                     const std::vector<std::uint32_t>& leaves, const Visit& visit) override;

 private:
  // Runs `select` through a cursor and calls `visit` per row; `columns` names
  // its result columns, and the schema's key is taken from them.
  Status read_rows(const CollectionSchema& schema, const std::vector<std::string>& columns,
                   const std::string& select, const Visit& visit);
  // Runs `body` in a savepoint with kSessionSettings, then rolls them back.
  Status with_fixed_settings(const std::function<Status()>& body);

  std::unique_ptr<Connection> db_;
  bool open_ = false;
};

}  // namespace megasync::connectors::postgres
