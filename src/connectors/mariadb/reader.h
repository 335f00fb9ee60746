// The mariadb record reader: the rows of tables, read in one REPEATABLE READ
// READ ONLY transaction started WITH CONSISTENT SNAPSHOT (one snapshot across
// InnoDB tables), each table streamed (mysql_use_result) so that memory stays
// bounded, for verification. Sets nothing up in the database.
//
// Created by MariadbEndpoint::open_record_reader; used by one thread only.
// Owns its own connection.
#pragma once

#include <memory>
#include <string>

#include "connectors/mariadb/service.h"
#include "core/record_reader.h"

namespace megasync::connectors::mariadb {

class MariadbReader : public RecordReader {
 public:
  MariadbReader(std::unique_ptr<Connection> db, std::string database)
      : db_(std::move(db)), database_(std::move(database)) {}
  ~MariadbReader() override;

  Status begin() override;
  // A missing table has no rows; columns the table lacks are absent. Values
  // are converted by field type (values.h, field_value).
  Status scan(const CollectionSchema& schema, const Visit& visit) override;
  void end() override;

 private:
  std::unique_ptr<Connection> db_;
  std::string database_;
  bool open_ = false;
};

}  // namespace megasync::connectors::mariadb
