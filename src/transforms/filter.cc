#include "transforms/filter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace megasync::transforms {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) {
    return "";
  }
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

std::optional<Value> parse_literal(const std::string& text) {
  if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"') &&
      text.back() == text.front()) {
    std::string out;
    for (std::size_t i = 1; i + 1 < text.size(); ++i) {
      out.push_back(text[i]);
      if (text[i] == text.front() && i + 2 < text.size() && text[i + 1] == text.front()) {
        ++i;  // a doubled quote is one quote
      }
    }
    return Value(out);
  }
  std::int64_t integer = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), integer);
  if (ec == std::errc() && ptr == text.data() + text.size()) {
    return Value(integer);
  }
  char* end = nullptr;
  const double real = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size()) {
    return Value(real);
  }
  return std::nullopt;
}

// <0, 0, >0, or nullopt when the two cannot be compared.
std::optional<int> compare(const Value& a, const Value& b) {
  auto number = [](const Value& v) -> std::optional<double> {
    if (const auto* i = std::get_if<std::int64_t>(&v)) {
      return static_cast<double>(*i);
    }
    if (const auto* d = std::get_if<double>(&v)) {
      return *d;
    }
    if (const auto* flag = std::get_if<bool>(&v)) {
      return *flag ? 1.0 : 0.0;
    }
    return std::nullopt;
  };
  const auto* sa = std::get_if<std::string>(&a);
  const auto* sb = std::get_if<std::string>(&b);
  if (sa != nullptr && sb != nullptr) {
    return sa->compare(*sb) < 0 ? -1 : (*sa == *sb ? 0 : 1);
  }
  // Exact integers compare exactly; mixed numbers through double.
  const auto* ia = std::get_if<std::int64_t>(&a);
  const auto* ib = std::get_if<std::int64_t>(&b);
  if (ia != nullptr && ib != nullptr) {
    return *ia < *ib ? -1 : (*ia == *ib ? 0 : 1);
  }
  std::optional<double> na = number(a);
  std::optional<double> nb = number(b);
  if (na && nb) {
    return *na < *nb ? -1 : (*na == *nb ? 0 : 1);
  }
  return std::nullopt;
}

}  // namespace

bool Predicate::matches(const Value& value) const {
  if (op == Op::kIsNull) {
    return is_null(value);
  }
  if (op == Op::kIsNotNull) {
    return !is_null(value);
  }
  if (is_null(value)) {
    return false;
  }
  std::optional<int> order = compare(value, literal);
  if (!order) {
    return op == Op::kNe;
  }
  switch (op) {
    case Op::kEq:
      return *order == 0;
    case Op::kNe:
      return *order != 0;
    case Op::kLt:
      return *order < 0;
    case Op::kLe:
      return *order <= 0;
    case Op::kGt:
      return *order > 0;
    case Op::kGe:
      return *order >= 0;
    default:
      return false;
  }
}

Result<Predicate> parse_predicate(const std::string& text) {
  const std::string where = trim(text);
  Predicate predicate;
  const std::string lowered = lower(where);
  for (const auto& [suffix, op] :
       {std::pair{std::string(" is not null"), Predicate::Op::kIsNotNull},
        std::pair{std::string(" is null"), Predicate::Op::kIsNull}}) {
    if (lowered.size() > suffix.size() &&
        lowered.compare(lowered.size() - suffix.size(), suffix.size(), suffix) == 0) {
      predicate.field = trim(where.substr(0, where.size() - suffix.size()));
      predicate.op = op;
      return predicate;
    }
  }
  const auto at = where.find_first_of("=!<>");
  if (at == std::string::npos || at == 0) {
    return make_error(ErrorCode::kInvalidConfig,
                      "where {:?}: expected <field> <op> <literal> with op one of = != < <= > >=, "
                      "or <field> is [not] null",
                      text);
  }
  predicate.field = trim(where.substr(0, at));
  std::size_t length = 1;
  const std::string two = where.substr(at, 2);
  if (two == "!=" || two == "<=" || two == ">=" || two == "<>") {
    length = 2;
    predicate.op = two == "<="   ? Predicate::Op::kLe
                   : two == ">=" ? Predicate::Op::kGe
                                 : Predicate::Op::kNe;
  } else if (where[at] == '=') {
    predicate.op = Predicate::Op::kEq;
  } else if (where[at] == '<') {
    predicate.op = Predicate::Op::kLt;
  } else if (where[at] == '>') {
    predicate.op = Predicate::Op::kGt;
  } else {
    return make_error(ErrorCode::kInvalidConfig, "where {:?}: unknown operator", text);
  }
  std::optional<Value> literal = parse_literal(trim(where.substr(at + length)));
  if (predicate.field.empty() || !literal) {
    return make_error(ErrorCode::kInvalidConfig,
                      "where {:?}: expected a field name and a number or a quoted string", text);
  }
  predicate.literal = std::move(*literal);
  return predicate;
}

Status Filter::apply_schema(CollectionSchema& schema) const {
  if (schema.column(predicate_.field) == nullptr) {
    return make_error(ErrorCode::kInvalidConfig, "filter: {} has no field {}", schema.name,
                      predicate_.field);
  }
  return ok();
}

Result<bool> Filter::apply(Change& change, const CollectionSchema& /*schema*/) const {
  if (change.op != Op::kUpsert) {
    return true;
  }
  auto field = change.fields.find(predicate_.field);
  const Value value = field == change.fields.end() ? Value() : field->second;
  if (!predicate_.matches(value)) {
    // The record may have matched before: remove it from the targets.
    change.op = Op::kDelete;
    change.fields.clear();
  }
  return true;
}

}  // namespace megasync::transforms
