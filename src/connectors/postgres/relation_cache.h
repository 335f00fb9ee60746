// Turns decoded pgoutput row messages into megasync Changes, using the
// Relation (and Type) messages the server sent earlier in the session.
//
// Choices (README.md): the collection of schema `public` is the bare table
// name, otherwise "schema.table"; the key is the relation's replica identity
// columns (flag bit 1) in column order; an unchanged TOASTed value ('u') is
// left out of `fields`; an update whose key changed is a delete of the old key
// followed by an upsert.
//
// Thread-safety: not thread-safe; one per replication stream, owned by the
// source that reads the stream.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connectors/postgres/pgoutput.h"
#include "core/change.h"
#include "core/error.h"

namespace megasync::connectors::postgres {

// The collection name of a relation: "t" for public.t, "sales.t" otherwise
// ("" namespace, pg_catalog, stays unqualified too). Names are not quoted.
std::string collection_name(const RelationMessage& relation);

class RelationCache {
 public:
  // Remembers a relation by OID, replacing an earlier one (sent again after DDL).
  void add(RelationMessage relation);
  // Remembers a non-built-in type, so that its arrays ("_mood") become kArray.
  void add(TypeMessage type);
  // The relation with `oid`, or nullptr. Valid until the next add().
  const RelationMessage* find(Oid oid) const;

  // The CollectionSchema of a known relation: columns with their logical and
  // source types (key columns not nullable; pgoutput says nothing of the
  // others, so they are nullable). kNotFound for an unknown OID; kPermanent
  // when the relation has no key columns.
  Result<CollectionSchema> schema(Oid relation) const;

  // Append the changes of one row message to `out`. Position and meta are left
  // to the caller (they belong to the transaction). kPermanent on an unknown
  // relation, a tuple whose column count differs from the Relation message, a
  // relation without key columns, binary values, or a value that does not
  // parse as its type; `out` is then left as it was.
  Status append_changes(const InsertMessage& message, std::vector<Change>& out) const;
  Status append_changes(const UpdateMessage& message, std::vector<Change>& out) const;
  Status append_changes(const DeleteMessage& message, std::vector<Change>& out) const;
  // One kTruncate change per truncated relation.
  Status append_changes(const TruncateMessage& message, std::vector<Change>& out) const;

 private:
  // An upsert (preceded by a delete of the old key when it changed).
  Status append_row(Oid relation, std::string_view message, char old_kind, const TupleData* old,
                    const TupleData& new_tuple, std::vector<Change>& out) const;
  Result<const RelationMessage*> relation_for(Oid oid, std::string_view message) const;
  Result<Value> column_value(const RelationMessage& relation, std::size_t column,
                             const TupleValue& value) const;

  std::unordered_map<Oid, RelationMessage> relations_;
  std::unordered_map<Oid, TypeMessage> types_;
};

}  // namespace megasync::connectors::postgres
