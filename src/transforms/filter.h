// The `filter` transform: keeps the records that match a predicate such as
// "status = 'paid'", "amount > 100" or "deleted_at is null".
//
// An upsert of a record that does not match becomes a delete of its key, so a
// record that stops matching leaves the targets too. Deletes and truncates
// always pass (they carry no fields to test).
#pragma once

#include <string>

#include "transforms/transform.h"

namespace megasync::transforms {

struct Predicate {
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIsNull, kIsNotNull };
  std::string field;
  Op op = Op::kEq;
  Value literal;  // a number (int64 or double) or a string

  // SQL-like: a null field matches only `is null`; a number and a string never
  // compare equal.
  bool matches(const Value& value) const;
};

// Parses "<field> <op> <literal>" or "<field> is [not] null"; kInvalidConfig
// saying what is wrong otherwise.
Result<Predicate> parse_predicate(const std::string& text);

class Filter : public Transform {
 public:
  Filter(std::optional<std::string> collection, Predicate predicate)
      : Transform(std::move(collection)), predicate_(std::move(predicate)) {}
  Status apply_schema(CollectionSchema& schema) const override;
  Result<bool> apply(Change& change, const CollectionSchema& schema) const override;

 private:
  Predicate predicate_;
};

}  // namespace megasync::transforms
