// The SQL of the postgres reader's server-side digests (RecordReader's
// digest_scheme, server_digest, scan_leaves), with no I/O.
//
// A key's leaf is the first `leaf_bits` bits of md5(ROW(key columns)::text);
// a row's hash is the first 64 bits of md5(ROW(columns)::text), with the
// schema's columns in schema order (a record's text form quotes what needs it
// and prints NULL as nothing, so "" and NULL differ). A leaf's sum is the sum of
// its rows' hashes as signed bigints, taken modulo 2^64: the same number as
// the sum of the unsigned hashes modulo 2^64, which the engine computes.
//
// Text forms depend on session settings; kSessionSettings fixes the ones that
// matter for the duration of a digest. The scheme id names the hash, the
// settings' version and every column with its type class, so that two tables
// get the same id only when equal rows print (and hash) the same.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/change.h"

namespace megasync::connectors::postgres {

// SET LOCAL statements giving every type a text form independent of the
// server's and the role's configuration (time zone, date and interval style,
// float digits, bytea output, currency).
extern const char* const kSessionSettings;

// The class of a column type as format_type() prints it, for the scheme id:
// types whose equal values print the same text share a class. Type modifiers
// are dropped ("numeric(10,2)" -> "numeric"), integers of every width are
// "integer", "text", "character varying(n)" and "character(n)" are "text";
// arrays keep their element's class ("bigint[]" -> "integer[]").
std::string type_class(std::string_view formatted_type);

// The scheme id of `schema` on a table whose columns have the given formatted
// types (types[i] for schema.columns[i]).
std::string digest_scheme_id(const CollectionSchema& schema, const std::vector<std::string>& types);

// The leaf of a row as an SQL int expression (leaf_bits in 1..31).
std::string leaf_expression(const CollectionSchema& schema, int leaf_bits);

// SELECT leaf, count, sum (unsigned, as numeric text) per non-empty leaf.
std::string server_digest_sql(const CollectionSchema& schema, int leaf_bits);

// SELECT the schema's columns of the rows whose leaf is one of `leaves`.
std::string leaf_rows_sql(const CollectionSchema& schema, int leaf_bits,
                          const std::vector<std::uint32_t>& leaves);

}  // namespace megasync::connectors::postgres
