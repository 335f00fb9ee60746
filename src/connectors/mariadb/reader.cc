#include "connectors/mariadb/reader.h"

#include <fmt/format.h>

#include <set>

#include "connectors/mariadb/sink.h"
#include "connectors/mariadb/values.h"

namespace megasync::connectors::mariadb {

MariadbReader::~MariadbReader() {
  end();
}

Status MariadbReader::begin() {
  if (open_) {
    return ok();
  }
  if (Status s = db_->exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); !s) {
    return s;
  }
  if (Status s = db_->exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); !s) {
    return s;
  }
  open_ = true;
  return ok();
}

Status MariadbReader::scan(const CollectionSchema& schema, const Visit& visit) {
  const auto [database, table] = split_name(schema.name, database_);
  Result<Rows> existing =
      db_->query(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                             "TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                             quote_literal(database), quote_literal(table)));
  if (!existing) {
    return fail(existing.error().with_context(fmt::format("describe table {}", schema.name)));
  }
  std::set<std::string> columns;
  for (const auto& row : *existing) {
    columns.insert(row[0].value_or(""));
  }
  if (columns.empty()) {
    return ok();  // no such table: no rows
  }
  for (const std::string& key : schema.primary_key) {
    if (!columns.contains(key)) {
      return make_error(ErrorCode::kPermanent, "table {} has no key column {}", schema.name, key);
    }
  }
  std::vector<const Column*> selected;
  std::string list;
  for (const Column& column : schema.columns) {
    if (columns.contains(column.name)) {
      selected.push_back(&column);
      list += (list.empty() ? "" : ", ") + quote_ident(column.name);
    }
  }
  std::vector<Value> key;
  Fields fields;
  bool visit_failed = false;
  Status read =
      db_->stream(fmt::format("SELECT {} FROM {}", list, qualified_name(schema.name, database_)),
                  [&](const StreamRow& row) -> Status {
                    fields.clear();
                    for (unsigned int i = 0; i < row.columns && i < selected.size(); ++i) {
                      const Column& column = *selected[i];
                      if (row.values[i] == nullptr) {
                        fields[column.name] = Value();
                        continue;
                      }
                      fields[column.name] =
                          field_value(row.fields[i].type, row.fields[i].charsetnr, column.type,
                                      std::string_view(row.values[i], row.lengths[i]));
                    }
                    key.clear();
                    for (const std::string& name : schema.primary_key) {
                      key.push_back(fields[name]);
                    }
                    Status visited = visit(key, fields);
                    visit_failed = !visited;
                    return visited;
                  });
  if (!read && !visit_failed) {
    return fail(read.error().with_context(fmt::format("read {}", schema.name)));
  }
  return read;
}

void MariadbReader::end() {
  if (open_) {
    (void)db_->exec("COMMIT");
    open_ = false;
  }
}

}  // namespace megasync::connectors::mariadb
