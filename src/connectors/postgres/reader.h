// The postgres record reader: the rows of tables, read in one REPEATABLE READ
// READ ONLY transaction (one snapshot across tables) through a cursor, so that
// memory stays bounded, for verification. Sets nothing up in the database.
//
// Created by PostgresEndpoint::open_record_reader; used by one thread only.
// Owns its own connection.
#pragma once

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

 private:
  std::unique_ptr<Connection> db_;
  bool open_ = false;
};

}  // namespace megasync::connectors::postgres
