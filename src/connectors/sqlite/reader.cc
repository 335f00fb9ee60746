#include "connectors/sqlite/reader.h"

#include <fmt/format.h>

#include <set>

namespace megasync::connectors::sqlite {
namespace {

// The columns table `table` has; empty when it does not exist.
Result<std::set<std::string>> existing_columns(Connection& db, const std::string& table) {
  Result<Statement> info = db.prepare("SELECT name FROM pragma_table_info(?)");
  if (!info) {
    return fail(info.error());
  }
  if (Status s = info->bind(1, table); !s) {
    return fail(s.error());
  }
  std::set<std::string> columns;
  while (true) {
    Result<bool> row = info->step();
    if (!row) {
      return fail(row.error().with_context(fmt::format("describe table {}", table)));
    }
    if (!*row) {
      return columns;
    }
    columns.insert(info->column_text(0));
  }
}

}  // namespace

SqliteReader::~SqliteReader() {
  end();
}

Status SqliteReader::begin() {
  if (db_ == nullptr || open_) {
    return ok();
  }
  // A deferred transaction: the first SELECT fixes the snapshot (WAL mode) or
  // takes the shared lock (rollback journal) that every later scan shares.
  if (Status s = db_->exec("BEGIN"); !s) {
    return s;
  }
  open_ = true;
  return ok();
}

Status SqliteReader::scan(const CollectionSchema& schema, const Visit& visit) {
  if (db_ == nullptr) {
    return ok();
  }
  Result<std::set<std::string>> columns = existing_columns(*db_, schema.name);
  if (!columns) {
    return fail(columns.error());
  }
  if (columns->empty()) {
    return ok();  // no such table: no rows
  }
  for (const std::string& key : schema.primary_key) {
    if (!columns->contains(key)) {
      return make_error(ErrorCode::kPermanent, "{}: table {} has no key column {}", db_->path(),
                        schema.name, key);
    }
  }
  std::vector<std::string> selected;
  for (const Column& column : schema.columns) {
    if (columns->contains(column.name)) {
      selected.push_back(column.name);
    }
  }
  std::string list;
  for (const std::string& name : selected) {
    list += (list.empty() ? "" : ", ") + quote_ident(name);
  }
  Result<Statement> select =
      db_->prepare(fmt::format("SELECT {} FROM {}", list, quote_ident(schema.name)));
  if (!select) {
    return fail(select.error().with_context(fmt::format("read {}", schema.name)));
  }
  std::vector<Value> key;
  Fields fields;
  while (true) {
    Result<bool> row = select->step();
    if (!row) {
      return fail(row.error().with_context(fmt::format("read {}", schema.name)));
    }
    if (!*row) {
      return ok();
    }
    fields.clear();
    for (std::size_t i = 0; i < selected.size(); ++i) {
      fields[selected[i]] = select->column(static_cast<int>(i));
    }
    key.clear();
    for (const std::string& name : schema.primary_key) {
      key.push_back(fields[name]);
    }
    if (Status s = visit(key, fields); !s) {
      return s;
    }
  }
}

void SqliteReader::end() {
  if (db_ != nullptr && open_) {
    (void)db_->exec("COMMIT");
    open_ = false;
  }
}

}  // namespace megasync::connectors::sqlite
