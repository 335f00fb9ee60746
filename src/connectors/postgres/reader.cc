#include "connectors/postgres/reader.h"

#include <fmt/format.h>

#include <set>

#include "connectors/postgres/sink.h"
#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

constexpr int kFetchRows = 10000;

}  // namespace

PostgresReader::~PostgresReader() {
  end();
}

Status PostgresReader::begin() {
  if (open_) {
    return ok();
  }
  if (Status s = db_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s) {
    return s;
  }
  open_ = true;
  return ok();
}

Status PostgresReader::scan(const CollectionSchema& schema, const Visit& visit) {
  const auto [namespace_name, table] = split_collection(schema.name);
  Result<Rows> existing = db_->query(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND "
      "table_name = $2",
      {namespace_name, table});
  if (!existing) {
    return fail(existing.error().with_context(fmt::format("describe table {}", schema.name)));
  }
  std::set<std::string> columns;
  for (int row = 0; row < existing->count(); ++row) {
    columns.insert(existing->text(row, 0));
  }
  if (columns.empty()) {
    return ok();  // no such table: no rows
  }
  std::vector<std::string> selected;
  std::vector<ColumnType> types;
  for (const Column& column : schema.columns) {
    if (columns.contains(column.name)) {
      selected.push_back(column.name);
      types.push_back(column.type);
    }
  }
  for (const std::string& key : schema.primary_key) {
    if (!columns.contains(key)) {
      return make_error(ErrorCode::kPermanent, "table {} has no key column {}", schema.name, key);
    }
  }
  std::string list;
  for (const std::string& name : selected) {
    list += (list.empty() ? "" : ", ") + quote_ident(name);
  }
  if (Status s = db_->exec(fmt::format("DECLARE _megasync_scan NO SCROLL CURSOR FOR SELECT {} "
                                       "FROM {}",
                                       list, qualified_name(schema.name)));
      !s) {
    return fail(s.error().with_context(fmt::format("read {}", schema.name)));
  }
  Status read = ok();
  std::vector<Value> key;
  std::map<std::string, Value> fields;
  while (read) {
    Result<Rows> rows = db_->query(fmt::format("FETCH {} FROM _megasync_scan", kFetchRows));
    if (!rows) {
      read = fail(rows.error().with_context(fmt::format("read {}", schema.name)));
      break;
    }
    for (int row = 0; row < rows->count() && read; ++row) {
      fields.clear();
      for (int column = 0; column < rows->columns(); ++column) {
        const std::string& name = selected[static_cast<std::size_t>(column)];
        if (rows->null(row, column)) {
          fields[name] = Value();
          continue;
        }
        Result<Value> value = read_value(
            rows->type(column), types[static_cast<std::size_t>(column)], rows->text(row, column));
        if (!value) {
          read = fail(value.error().with_context(fmt::format("{}.{}", schema.name, name)));
          break;
        }
        fields[name] = std::move(*value);
      }
      if (!read) {
        break;
      }
      key.clear();
      for (const std::string& name : schema.primary_key) {
        key.push_back(fields[name]);
      }
      read = visit(key, fields);
    }
    if (rows->count() < kFetchRows) {
      break;
    }
  }
  (void)db_->exec("CLOSE _megasync_scan");
  return read;
}

void PostgresReader::end() {
  if (open_) {
    (void)db_->exec("COMMIT");
    open_ = false;
  }
}

}  // namespace megasync::connectors::postgres
