// Reading the schema of a PostgreSQL database for a record source: which
// tables a job's patterns name, with their columns, types and primary keys.
//
// Functions over a caller-owned Connection.
#pragma once

#include <string>
#include <vector>

#include "connectors/postgres/service.h"
#include "core/change.h"

namespace megasync::connectors::postgres {

// The tables matching `patterns` (collection names as megasync names them:
// "orders" for public.orders, "sales.orders" otherwise; plain names or fnmatch
// globs; empty: every user table), in name order. kInvalidConfig for a plain
// name that matches nothing and for a matched table without a primary key,
// saying how to fix it.
Result<std::vector<CollectionSchema>> describe_tables(Connection& db,
                                                      const std::vector<std::string>& patterns);

}  // namespace megasync::connectors::postgres
