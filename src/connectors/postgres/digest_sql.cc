#include "connectors/postgres/digest_sql.h"

#include <fmt/format.h>

#include <cassert>
#include <cctype>

#include "connectors/postgres/service.h"
#include "connectors/postgres/sink.h"

namespace megasync::connectors::postgres {
namespace {

// ROW(a, b, ...)::text of the named columns.
std::string row_text(const std::vector<std::string>& columns) {
  std::string list;
  for (const std::string& name : columns) {
    list += (list.empty() ? "" : ", ") + quote_ident(name);
  }
  return fmt::format("ROW({})::text", list);
}

std::vector<std::string> column_names(const CollectionSchema& schema) {
  std::vector<std::string> names;
  for (const Column& column : schema.columns) {
    names.push_back(column.name);
  }
  return names;
}

}  // namespace

const char* const kSessionSettings =
    "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; "
    "SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; "
    "SET LOCAL bytea_output = 'hex'; SET LOCAL lc_monetary = 'C'";

std::string type_class(std::string_view formatted_type) {
  std::string base;
  int depth = 0;
  for (char c : formatted_type) {
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (depth == 0) {
      base.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  std::string dims;
  while (base.ends_with("[]")) {
    base.resize(base.size() - 2);
    dims += "[]";
  }
  // "timestamp(3) with time zone" leaves two spaces; "numeric(10,2)" a trailing nothing.
  std::string single;
  for (char c : base) {
    if (c != ' ' || (!single.empty() && single.back() != ' ')) {
      single.push_back(c);
    }
  }
  while (!single.empty() && single.back() == ' ') {
    single.pop_back();
  }
  if (single == "smallint" || single == "integer" || single == "bigint") {
    single = "integer";
  } else if (single == "text" || single == "character varying" || single == "character") {
    single = "text";
  }
  return single + dims;
}

std::string digest_scheme_id(const CollectionSchema& schema,
                             const std::vector<std::string>& types) {
  assert(types.size() == schema.columns.size());
  std::string columns;
  for (std::size_t i = 0; i < schema.columns.size(); ++i) {
    columns += fmt::format("{}{} {}", i == 0 ? "" : ", ", quote_ident(schema.columns[i].name),
                           type_class(types[i]));
  }
  std::string key;
  for (const std::string& name : schema.primary_key) {
    key += (key.empty() ? "" : ", ") + quote_ident(name);
  }
  return fmt::format("postgres md5 v1; key ({}); columns ({})", key, columns);
}

std::string leaf_expression(const CollectionSchema& schema, int leaf_bits) {
  assert(leaf_bits >= 1 && leaf_bits <= 31);
  // The first 8 hex digits are 32 bits; a cast to bit(n) keeps the leftmost n.
  return fmt::format("('x' || substr(md5({}), 1, 8))::bit({})::int", row_text(schema.primary_key),
                     leaf_bits);
}

std::string server_digest_sql(const CollectionSchema& schema, int leaf_bits) {
  // sum(bigint) is numeric, so it cannot overflow; the modulo makes it the
  // unsigned 64-bit sum the engine keeps.
  return fmt::format(
      "SELECT leaf, count(*), ((sum(h) % 18446744073709551616) + 18446744073709551616) % "
      "18446744073709551616 FROM (SELECT {} AS leaf, ('x' || substr(md5({}), 1, 16))::bit(64)::"
      "bigint AS h FROM {}) AS rows GROUP BY leaf",
      leaf_expression(schema, leaf_bits), row_text(column_names(schema)),
      qualified_name(schema.name));
}

std::string leaf_rows_sql(const CollectionSchema& schema, int leaf_bits,
                          const std::vector<std::uint32_t>& leaves) {
  std::string list;
  for (const std::string& name : column_names(schema)) {
    list += (list.empty() ? "" : ", ") + quote_ident(name);
  }
  // Leaves are numbers, spliced as an array literal.
  return fmt::format("SELECT {} FROM {} WHERE {} = ANY('{{{}}}'::int[])", list,
                     qualified_name(schema.name), leaf_expression(schema, leaf_bits),
                     fmt::join(leaves, ","));
}

}  // namespace megasync::connectors::postgres
