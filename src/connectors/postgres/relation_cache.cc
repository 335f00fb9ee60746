#include "connectors/postgres/relation_cache.h"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

// Non-built-in array types are named with a leading underscore ("_mood").
bool is_custom_array(const TypeMessage* type) {
  return type != nullptr && !type->name.empty() && type->name[0] == '_';
}

}  // namespace

std::string collection_name(const RelationMessage& relation) {
  // `public` is where tables live unless someone chose otherwise, and most
  // targets have no schemas: keep those names plain and qualify the rest.
  if (relation.namespace_name.empty() || relation.namespace_name == "public" ||
      relation.namespace_name == "pg_catalog") {
    return relation.name;
  }
  return relation.namespace_name + "." + relation.name;
}

void RelationCache::add(RelationMessage relation) {
  Oid oid = relation.oid;
  relations_.insert_or_assign(oid, std::move(relation));
}

void RelationCache::add(TypeMessage type) {
  Oid oid = type.oid;
  types_.insert_or_assign(oid, std::move(type));
}

const RelationMessage* RelationCache::find(Oid oid) const {
  auto it = relations_.find(oid);
  return it == relations_.end() ? nullptr : &it->second;
}

Result<CollectionSchema> RelationCache::schema(Oid relation_oid) const {
  const RelationMessage* relation = find(relation_oid);
  if (relation == nullptr) {
    return make_error(ErrorCode::kNotFound, "pgoutput: no Relation message for relation OID {}",
                      relation_oid);
  }
  CollectionSchema schema;
  schema.name = collection_name(*relation);
  schema.type_system = "postgres";
  for (const auto& c : relation->columns) {
    Column column;
    column.name = c.name;
    column.nullable = !c.key();
    column.source_type = format_type(c.type_oid, c.type_modifier);
    column.type = column_type(c.type_oid);
    if (!known_type(c.type_oid)) {
      auto it = types_.find(c.type_oid);
      const TypeMessage* type = it == types_.end() ? nullptr : &it->second;
      column.type = is_custom_array(type) ? ColumnType::kArray : ColumnType::kText;
      column.source_type = type == nullptr ? fmt::format("oid {}", c.type_oid)
                           : type->namespace_name.empty() || type->namespace_name == "public"
                               ? type->name
                               : type->namespace_name + "." + type->name;
    }
    if (c.key()) {
      schema.primary_key.push_back(c.name);
    }
    schema.columns.push_back(std::move(column));
  }
  if (schema.primary_key.empty()) {
    return make_error(ErrorCode::kPermanent,
                      "pgoutput: table {} has no replica identity columns; give it a primary key "
                      "or REPLICA IDENTITY USING INDEX",
                      schema.name);
  }
  return schema;
}

Result<const RelationMessage*> RelationCache::relation_for(Oid oid,
                                                           std::string_view message) const {
  const RelationMessage* relation = find(oid);
  if (relation == nullptr) {
    return make_error(ErrorCode::kPermanent,
                      "pgoutput: {} for relation OID {} before any Relation message for it",
                      message, oid);
  }
  return relation;
}

Result<Value> RelationCache::column_value(const RelationMessage& relation, std::size_t column,
                                          const TupleValue& value) const {
  const RelationColumn& c = relation.columns[column];
  if (value.kind == TupleValue::Kind::kNull) {
    return Value();
  }
  if (value.kind == TupleValue::Kind::kBinary) {
    return make_error(ErrorCode::kPermanent,
                      "pgoutput: {} column {}: binary values are not supported (start replication "
                      "without binary 'true')",
                      collection_name(relation), c.name);
  }
  Result<Value> converted;
  if (known_type(c.type_oid)) {
    converted = text_to_value(c.type_oid, value.data);
  } else if (auto it = types_.find(c.type_oid);
             it != types_.end() && is_custom_array(&it->second)) {
    converted = array_to_value(0, value.data);
  } else {
    converted = Value(value.data);
  }
  if (converted) {
    return converted;  // the context below is formatted only for an error
  }
  return with_context(std::move(converted),
                      fmt::format("pgoutput: {} column {}", collection_name(relation), c.name));
}

namespace {

Status check_tuple(const RelationMessage& relation, const TupleData& tuple,
                   std::string_view message) {
  if (tuple.size() != relation.columns.size()) {
    return make_error(ErrorCode::kPermanent,
                      "pgoutput: {} on {} has {} columns but its Relation message has {}", message,
                      collection_name(relation), tuple.size(), relation.columns.size());
  }
  bool has_key = false;
  for (const auto& c : relation.columns) {
    has_key = has_key || c.key();
  }
  if (!has_key) {
    return make_error(ErrorCode::kPermanent,
                      "pgoutput: table {} has no replica identity columns; give it a primary key "
                      "or REPLICA IDENTITY USING INDEX",
                      collection_name(relation));
  }
  return ok();
}

}  // namespace

Status RelationCache::append_changes(const InsertMessage& message, std::vector<Change>& out) const {
  return append_row(message.relation, "Insert", '\0', nullptr, message.new_tuple, out);
}

Status RelationCache::append_changes(const UpdateMessage& message, std::vector<Change>& out) const {
  return append_row(message.relation, "Update", message.old_kind,
                    message.old_tuple ? &*message.old_tuple : nullptr, message.new_tuple, out);
}

Status RelationCache::append_row(Oid relation_oid, std::string_view message, char old_kind,
                                 const TupleData* old, const TupleData& new_tuple,
                                 std::vector<Change>& out) const {
  auto relation = relation_for(relation_oid, message);
  if (!relation) {
    return fail(relation.error());
  }
  const RelationMessage& r = **relation;
  if (auto checked = check_tuple(r, new_tuple, message); !checked) {
    return checked;
  }
  if (old != nullptr) {
    if (auto checked = check_tuple(r, *old, message); !checked) {
      return checked;
    }
  }
  // A whole old row ('O', REPLICA IDENTITY FULL) holds the real value of a
  // column the new row marks unchanged; a key tuple ('K') holds only key
  // columns (the others are sent as null, not as their values).
  bool old_is_row = old != nullptr && old_kind == 'O';
  Change upsert;
  upsert.collection = collection_name(r);
  std::vector<Value> old_key;
  for (std::size_t i = 0; i < r.columns.size(); ++i) {
    const RelationColumn& c = r.columns[i];
    const TupleValue* value = &new_tuple[i];
    if (value->kind == TupleValue::Kind::kUnchangedToast && old != nullptr &&
        (old_is_row || c.key()) && (*old)[i].kind != TupleValue::Kind::kUnchangedToast) {
      value = &(*old)[i];
    }
    if (old != nullptr && c.key()) {
      if ((*old)[i].kind == TupleValue::Kind::kUnchangedToast) {
        return make_error(ErrorCode::kPermanent,
                          "pgoutput: {} column {}: old key value was not sent (unchanged TOAST)",
                          upsert.collection, c.name);
      }
      auto v = column_value(r, i, (*old)[i]);
      if (!v) {
        return fail(v.error());
      }
      old_key.push_back(*std::move(v));
    }
    if (value->kind == TupleValue::Kind::kUnchangedToast) {
      if (c.key()) {
        return make_error(ErrorCode::kPermanent,
                          "pgoutput: {} column {}: key value was not sent (unchanged TOAST) and "
                          "there is no old key",
                          upsert.collection, c.name);
      }
      continue;  // left absent: the target keeps its value
    }
    auto v = column_value(r, i, *value);
    if (!v) {
      return fail(v.error());
    }
    if (c.key()) {
      upsert.key.push_back(*v);
    }
    upsert.fields.emplace(c.name, *std::move(v));
  }
  // pgoutput also sends an old key when the key did not change (e.g. a TOASTed
  // key column), so compare rather than trust its presence.
  if (old != nullptr && encode_key(old_key) != encode_key(upsert.key)) {
    Change del;
    del.op = Op::kDelete;
    del.collection = upsert.collection;
    del.key = std::move(old_key);
    out.push_back(std::move(del));
  }
  out.push_back(std::move(upsert));
  return ok();
}

Status RelationCache::append_changes(const DeleteMessage& message, std::vector<Change>& out) const {
  auto relation = relation_for(message.relation, "Delete");
  if (!relation) {
    return fail(relation.error());
  }
  const RelationMessage& r = **relation;
  if (auto checked = check_tuple(r, message.old_tuple, "Delete"); !checked) {
    return checked;
  }
  Change del;
  del.op = Op::kDelete;
  del.collection = collection_name(r);
  for (std::size_t i = 0; i < r.columns.size(); ++i) {
    if (!r.columns[i].key()) {
      continue;
    }
    if (message.old_tuple[i].kind == TupleValue::Kind::kUnchangedToast) {
      return make_error(ErrorCode::kPermanent,
                        "pgoutput: {} column {}: deleted key value was not sent (unchanged TOAST)",
                        del.collection, r.columns[i].name);
    }
    auto v = column_value(r, i, message.old_tuple[i]);
    if (!v) {
      return fail(v.error());
    }
    del.key.push_back(*std::move(v));
  }
  out.push_back(std::move(del));
  return ok();
}

Status RelationCache::append_changes(const TruncateMessage& message,
                                     std::vector<Change>& out) const {
  std::vector<Change> changes;
  for (Oid oid : message.relations) {
    auto relation = relation_for(oid, "Truncate");
    if (!relation) {
      return fail(relation.error());
    }
    Change truncate;
    truncate.op = Op::kTruncate;
    truncate.collection = collection_name(**relation);
    changes.push_back(std::move(truncate));
  }
  out.insert(out.end(), std::make_move_iterator(changes.begin()),
             std::make_move_iterator(changes.end()));
  return ok();
}

}  // namespace megasync::connectors::postgres
