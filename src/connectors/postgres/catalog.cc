#include "connectors/postgres/catalog.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <map>

#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

bool is_glob(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

std::string collection_of(const std::string& schema, const std::string& table) {
  return schema == "public" ? table : schema + "." + table;
}

}  // namespace

Result<std::vector<CollectionSchema>> describe_tables(Connection& db,
                                                      const std::vector<std::string>& patterns) {
  // Every column of every ordinary or partitioned user table, with whether it
  // belongs to the primary key (and where), in one round trip.
  Result<Rows> rows = db.query(
      "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
      "a.attnotnull, coalesce((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY "
      "AS k(att, n) WHERE k.att = a.attnum), 0) "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
      "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
      "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
      "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "AND n.nspname NOT LIKE 'pg\\_%' AND c.relname NOT LIKE '\\_megasync\\_%' "
      "ORDER BY n.nspname, c.relname, a.attnum");
  if (!rows) {
    return fail(rows.error().with_context("list tables"));
  }
  std::map<std::string, CollectionSchema> tables;
  std::map<std::string, std::map<int, std::string>> keys;
  for (int row = 0; row < rows->count(); ++row) {
    const std::string name = collection_of(rows->text(row, 0), rows->text(row, 1));
    CollectionSchema& schema = tables[name];
    schema.name = name;
    schema.type_system = "postgres";
    Column column;
    column.name = rows->text(row, 2);
    column.source_type = rows->text(row, 3);
    column.type = column_type(std::string_view(column.source_type));
    column.nullable = rows->text(row, 4) != "t";
    if (const int position = std::stoi(rows->text(row, 5)); position > 0) {
      keys[name][position] = column.name;
    }
    schema.columns.push_back(std::move(column));
  }

  std::vector<CollectionSchema> out;
  std::map<std::string, bool> used;
  for (auto& [name, schema] : tables) {
    bool matched = patterns.empty();
    for (const std::string& pattern : patterns) {
      if (is_glob(pattern) ? ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0 : pattern == name) {
        matched = true;
        used[pattern] = true;
      }
    }
    if (!matched) {
      continue;
    }
    if (keys[name].empty()) {
      return make_error(ErrorCode::kInvalidConfig,
                        "table {} has no primary key: add one (ALTER TABLE {} ADD PRIMARY KEY "
                        "(...)), or leave it out of the job's tables",
                        name, name);
    }
    for (auto& [position, key] : keys[name]) {
      schema.primary_key.push_back(key);
    }
    out.push_back(std::move(schema));
  }
  for (const std::string& pattern : patterns) {
    if (!is_glob(pattern) && !used[pattern]) {
      return make_error(ErrorCode::kInvalidConfig,
                        "table {} does not exist in the source database (names are 'table' for "
                        "the public schema, 'schema.table' otherwise)",
                        pattern);
    }
  }
  return out;
}

}  // namespace megasync::connectors::postgres
