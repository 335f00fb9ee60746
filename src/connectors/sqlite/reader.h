// The sqlite record reader: the rows of tables of a SQLite database, read in one
// read transaction, for verification. Sets nothing up in the file.
//
// Created by SqliteEndpoint::open_record_reader; used by one thread only. Owns
// its own connection, or none when the file does not exist yet (a target that
// was never written), in which case every table is empty.
#pragma once

#include <memory>

#include "connectors/sqlite/db.h"
#include "core/record_reader.h"

namespace megasync::connectors::sqlite {

class SqliteReader : public RecordReader {
 public:
  explicit SqliteReader(std::unique_ptr<Connection> db) : db_(std::move(db)) {}
  ~SqliteReader() override;

  Status begin() override;
  // SELECT of the key and the columns the table has, of `schema.name`.
  Status scan(const CollectionSchema& schema, const Visit& visit) override;
  void end() override;

 private:
  std::unique_ptr<Connection> db_;  // null: no file, no rows
  bool open_ = false;
};

}  // namespace megasync::connectors::sqlite
