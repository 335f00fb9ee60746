#include "connectors/sqlite/schema.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace megasync::connectors::sqlite {
namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

bool is_glob(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

}  // namespace

ColumnType column_type(std::string_view declared) {
  std::string upper(declared);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  // Checked most specific first: "DATETIME" must not become a DATE, and the
  // INT/CHAR/BLOB/REAL tests follow SQLite's own affinity rules.
  if (contains(upper, "BOOL")) {
    return ColumnType::kBoolean;
  }
  if (contains(upper, "DATETIME") || contains(upper, "TIMESTAMP")) {
    return ColumnType::kTimestamp;
  }
  if (contains(upper, "DATE")) {
    return ColumnType::kDate;
  }
  if (contains(upper, "INT")) {
    return ColumnType::kInteger;
  }
  if (contains(upper, "CHAR") || contains(upper, "CLOB") || contains(upper, "TEXT")) {
    return ColumnType::kText;
  }
  if (contains(upper, "BLOB")) {
    return ColumnType::kBytes;
  }
  if (contains(upper, "REAL") || contains(upper, "FLOA") || contains(upper, "DOUB")) {
    return ColumnType::kReal;
  }
  if (contains(upper, "NUMERIC") || contains(upper, "DECIMAL")) {
    return ColumnType::kNumeric;
  }
  return ColumnType::kText;
}

std::string declared_type(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kReal:
      return "REAL";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kBytes:
      return "BLOB";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTimestamp:
    case ColumnType::kTimestampTz:
      return "TIMESTAMP";
    default:
      // Numeric too: NUMERIC affinity would turn "1234567890.1234567890" into a
      // REAL of 15 significant digits; TEXT keeps every digit (and "NaN").
      return "TEXT";
  }
}

Result<CollectionSchema> describe_table(Connection& db, const std::string& table) {
  Result<Statement> info =
      db.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)");
  if (!info) {
    return fail(info.error());
  }
  if (Status s = info->bind(1, table); !s) {
    return fail(s.error());
  }
  CollectionSchema schema;
  schema.name = table;
  schema.type_system = "sqlite";
  std::vector<std::pair<std::int64_t, std::string>> key;
  while (true) {
    Result<bool> row = info->step();
    if (!row) {
      return fail(row.error().with_context(fmt::format("describe table {}", table)));
    }
    if (!*row) {
      break;
    }
    Column column;
    column.name = info->column_text(0);
    column.source_type = info->column_text(1);
    column.type = sqlite::column_type(column.source_type);
    column.nullable = info->column_int64(2) == 0;
    if (const std::int64_t pk = info->column_int64(3); pk > 0) {
      key.emplace_back(pk, column.name);
    }
    schema.columns.push_back(std::move(column));
  }
  if (schema.columns.empty()) {
    return make_error(ErrorCode::kNotFound, "{}: table {} does not exist", db.path(), table);
  }
  if (key.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "{}: table {} has no PRIMARY KEY (a rowid table cannot be synced by key): "
                      "declare a PRIMARY KEY",
                      db.path(), table);
  }
  std::sort(key.begin(), key.end());
  for (auto& [order, name] : key) {
    schema.primary_key.push_back(std::move(name));
  }
  return schema;
}

Result<std::vector<CollectionSchema>> describe_tables(Connection& db,
                                                      const std::vector<std::string>& patterns) {
  Result<Statement> list = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE "
      "'\\' AND name NOT LIKE '\\_megasync\\_%' ESCAPE '\\' ORDER BY name");
  if (!list) {
    return fail(list.error());
  }
  std::vector<std::string> tables;
  while (true) {
    Result<bool> row = list->step();
    if (!row) {
      return fail(row.error().with_context("list tables"));
    }
    if (!*row) {
      break;
    }
    tables.push_back(list->column_text(0));
  }
  std::set<std::string> chosen;
  for (const std::string& pattern : patterns) {
    bool matched = false;
    for (const std::string& table : tables) {
      if (is_glob(pattern) ? ::fnmatch(pattern.c_str(), table.c_str(), 0) == 0 : pattern == table) {
        chosen.insert(table);
        matched = true;
      }
    }
    if (!matched && !is_glob(pattern)) {
      return make_error(ErrorCode::kInvalidConfig, "{}: table {} does not exist", db.path(),
                        pattern);
    }
  }
  if (patterns.empty()) {
    chosen.insert(tables.begin(), tables.end());
  }
  std::vector<CollectionSchema> schemas;
  for (const std::string& table : chosen) {
    Result<CollectionSchema> schema = describe_table(db, table);
    if (!schema) {
      return fail(schema.error());
    }
    schemas.push_back(std::move(*schema));
  }
  return schemas;
}

}  // namespace megasync::connectors::sqlite
