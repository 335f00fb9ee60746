// Reading and writing table definitions: declared SQLite types to and from
// ColumnType, and the schemas of the tables a record job names.
//
// Thread-safety: functions over a caller-owned Connection.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/sqlite/db.h"
#include "core/change.h"

namespace megasync::connectors::sqlite {

// The logical type of a declared column type ("VARCHAR(20)" -> kText).
ColumnType column_type(std::string_view declared);
// The declared type to create a column of `type` with.
std::string declared_type(ColumnType type);

// The schema of one table; kNotFound when it does not exist, kInvalidConfig when
// it has no PRIMARY KEY.
Result<CollectionSchema> describe_table(Connection& db, const std::string& table);

// The tables matching `patterns` (names or fnmatch globs; empty: every user
// table), in name order. A plain name that matches nothing is kInvalidConfig,
// as is any matched table without a PRIMARY KEY. megasync's own tables are
// never matched.
Result<std::vector<CollectionSchema>> describe_tables(Connection& db,
                                                      const std::vector<std::string>& patterns);

}  // namespace megasync::connectors::sqlite
