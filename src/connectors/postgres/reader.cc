#include "connectors/postgres/reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "connectors/postgres/digest_sql.h"
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
  for (const Column& column : schema.columns) {
    if (columns.contains(column.name)) {
      selected.push_back(column.name);
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
  return read_rows(schema, selected,
                   fmt::format("SELECT {} FROM {}", list, qualified_name(schema.name)), visit);
}

Status PostgresReader::read_rows(const CollectionSchema& schema,
                                 const std::vector<std::string>& columns, const std::string& select,
                                 const Visit& visit) {
  if (Status s = db_->exec(fmt::format("DECLARE _megasync_scan NO SCROLL CURSOR FOR {}", select));
      !s) {
    return fail(s.error().with_context(fmt::format("read {}", schema.name)));
  }
  // What the schema says each selected column holds (read_value needs it for arrays).
  std::vector<ColumnType> types;
  for (const std::string& name : columns) {
    auto described = std::find_if(schema.columns.begin(), schema.columns.end(),
                                  [&](const Column& column) { return column.name == name; });
    types.push_back(described == schema.columns.end() ? ColumnType::kText : described->type);
  }
  Status read = ok();
  std::vector<Value> key;
  Fields fields;
  while (read) {
    Result<Rows> rows = db_->query(fmt::format("FETCH {} FROM _megasync_scan", kFetchRows));
    if (!rows) {
      read = fail(rows.error().with_context(fmt::format("read {}", schema.name)));
      break;
    }
    for (int row = 0; row < rows->count() && read; ++row) {
      fields.clear();
      for (int column = 0; column < rows->columns(); ++column) {
        const std::string& name = columns[static_cast<std::size_t>(column)];
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

Status PostgresReader::with_fixed_settings(const std::function<Status()>& body) {
  if (Status s = db_->exec(fmt::format("SAVEPOINT _megasync_digest; {}", kSessionSettings)); !s) {
    return s;
  }
  Status result = body();
  // Undoes the SET LOCALs (and, after an error, the failed statement's abort).
  if (Status s = db_->exec("ROLLBACK TO SAVEPOINT _megasync_digest; RELEASE SAVEPOINT "
                           "_megasync_digest");
      !s && result) {
    return s;
  }
  return result;
}

Result<std::optional<std::string>> PostgresReader::digest_scheme(const CollectionSchema& schema) {
  if (db_->server_version() < 120000) {
    return std::optional<std::string>();  // float output differs before 12
  }
  Result<Rows> rows = db_->query(
      "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
      "to_regclass($1) AND attnum > 0 AND NOT attisdropped",
      {qualified_name(schema.name)});
  if (!rows) {
    return fail(rows.error().with_context(fmt::format("describe table {}", schema.name)));
  }
  std::map<std::string, std::string> types;
  for (int row = 0; row < rows->count(); ++row) {
    types[rows->text(row, 0)] = rows->text(row, 1);
  }
  std::vector<std::string> ordered;
  for (const Column& column : schema.columns) {
    auto found = types.find(column.name);
    if (found == types.end()) {
      return std::optional<std::string>();  // no table, or a column it lacks
    }
    ordered.push_back(found->second);
  }
  for (const std::string& key : schema.primary_key) {
    if (!types.contains(key)) {
      return std::optional<std::string>();
    }
  }
  return std::optional<std::string>(digest_scheme_id(schema, ordered));
}

Result<std::vector<RecordReader::LeafDigest>> PostgresReader::server_digest(
    const CollectionSchema& schema, int leaf_bits) {
  std::vector<LeafDigest> leaves;
  Status read = with_fixed_settings([&]() -> Status {
    Result<Rows> rows = db_->query(server_digest_sql(schema, leaf_bits));
    if (!rows) {
      return fail(rows.error());
    }
    for (int row = 0; row < rows->count(); ++row) {
      LeafDigest leaf;
      const std::string number = rows->text(row, 0);
      const std::string count = rows->text(row, 1);
      const std::string sum = rows->text(row, 2);
      auto parse = [](const std::string& text, auto& out) {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        return ec == std::errc() && end == text.data() + text.size();
      };
      if (!parse(number, leaf.leaf) || !parse(count, leaf.rows) || !parse(sum, leaf.sum)) {
        return make_error(ErrorCode::kPermanent, "unexpected digest row ({}, {}, {})", number,
                          count, sum);
      }
      leaves.push_back(leaf);
    }
    return ok();
  });
  if (!read) {
    return fail(read.error().with_context(fmt::format("digest {}", schema.name)));
  }
  return leaves;
}

Status PostgresReader::scan_leaves(const CollectionSchema& schema, int leaf_bits,
                                   const std::vector<std::uint32_t>& leaves, const Visit& visit) {
  std::vector<std::string> columns;
  for (const Column& column : schema.columns) {
    columns.push_back(column.name);
  }
  return with_fixed_settings([&]() -> Status {
    return read_rows(schema, columns, leaf_rows_sql(schema, leaf_bits, leaves), visit);
  });
}

void PostgresReader::end() {
  if (open_) {
    (void)db_->exec("COMMIT");
    open_ = false;
  }
}

}  // namespace megasync::connectors::postgres
